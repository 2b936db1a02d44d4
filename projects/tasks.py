"""Celery tasks for projects: each loads by id, calls one service, and is safe to run twice."""

from celery import shared_task

from . import services


@shared_task
def purge_deleted_projects_task() -> int:
    return services.project_purge_expired()
