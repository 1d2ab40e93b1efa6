from celery import shared_task

from . import conf, services


@shared_task(soft_time_limit=conf.TASK_SOFT_TIME_LIMIT, time_limit=conf.TASK_TIME_LIMIT, acks_late=True)
def run_import_job(job_id: int, phase: str) -> str:
    """Checks or imports an uploaded file in the background (phase "check" or "import")."""
    return services.import_job_run(job_id=job_id, phase=phase).status
