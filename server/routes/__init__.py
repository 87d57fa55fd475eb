"""The REST resources, one module each: backends, sessions, jobs, usage, qsession's control."""
