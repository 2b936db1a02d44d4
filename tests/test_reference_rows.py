"""The rows the data migrations seed (plan limits, model prices, staff groups) are back after a test that
empties every table, for whichever test a worker runs next (tests/conftest.py)."""

import pytest
from django.contrib.auth.models import Group

from billing.models import PlanLimit
from moderation.roles import BILLING_ADMINS, MODERATORS
from projects.models import ModelPrice

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_transactional_test_ends_by_emptying_every_table():
    Group.objects.all().delete()
    PlanLimit.objects.all().delete()
    assert not Group.objects.exists()


def test_the_next_test_finds_the_seeded_rows_again():
    assert set(Group.objects.values_list("name", flat=True)) >= {MODERATORS, BILLING_ADMINS}
    assert Group.objects.get(name=MODERATORS).permissions.exists()
    assert set(PlanLimit.objects.values_list("tier", flat=True)) == {"free", "pro", "enterprise"}
    assert ModelPrice.objects.exists()
