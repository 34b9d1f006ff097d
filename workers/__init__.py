"""RQ jobs and schedules. Thin: each job pushes an app context and calls the
sync engine; retries and failure bookkeeping live here, the work does not."""
