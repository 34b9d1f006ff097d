"""``gunicorn wsgi:app``. Without REDIS_URL this process also runs the worker thread."""

from webapp import create_app
from workers.in_process import start_if_in_process

app = create_app()
start_if_in_process(app)
