"""Fixtures shared by the content tests."""

import pytest


@pytest.fixture
def admin_client(client, staff_user):
    """A superuser signed in to the admin (staff with every Django model permission)."""
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    return client
