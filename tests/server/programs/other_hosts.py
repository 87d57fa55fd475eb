"""A program that asks for hosts other than IBM's: an HTTPS site and a plain-HTTP one."""

import sys
import urllib.request

import requests

try:
    requests.get("https://example.com/", timeout=30)
    print("https: reached")
except requests.exceptions.ProxyError as err:
    print("https refused:", err)
url = sys.argv[1]
with urllib.request.urlopen(url, timeout=30) as response:
    print("allowed:", response.read().decode())
