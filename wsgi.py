"""``gunicorn wsgi:app``. Without REDIS_URL this process also runs the worker thread.

Needs ``SECRET_KEY`` (the same in every worker): without it the app refuses
to start, and gunicorn stops with "Worker failed to boot" after the reason."""

from webapp import create_app
from workers.in_process import start_if_in_process

app = create_app()
start_if_in_process(app)
