"""The stock gateway: the protocol's queries over Program 1's files, as one WSGI app.

queries (Gateway, the query table), runs (one run's session), reaper
(housekeeping), processes (Program 1), scoreboard, app (WSGI), cgi (the CGI
adapter), wsgi (Flask, ``wwm serve``), amalgamate (builds cgi-bin/wwm.py).
"""
