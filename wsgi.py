"""``gunicorn wsgi:app``. Without REDIS_URL this process also runs the worker thread."""

from webapp import create_app

app = create_app(start_worker=True)
