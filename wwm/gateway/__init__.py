"""The stock gateway: core.py (standard library only, also the CGI file) and wsgi.py (Flask)."""
