"""The backend web service (CONSOLE_PORT, 8000): /healthz, the department API, the
mini-program API, staff login and the consoles — aiohttp sub-applications, each
behind its own auth boundary (see backend/app.py). `python -m backend` runs it.

The web layer calls the services in bot/ and never the other way round."""
