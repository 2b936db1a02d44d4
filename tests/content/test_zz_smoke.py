import pytest
from content.demo_docs import seed_docs

pytestmark = pytest.mark.django_db

def test_smoke(client, staff_user, django_assert_max_num_queries):
    n = seed_docs(staff_user)
    print("created", n)
    r = client.get("/docs/")
    print(r.status_code, r.get("Location"))
    r = client.get(r["Location"])
    print(r.status_code)
    html = r.content.decode()
    open("/tmp/docs_page.html","w").write(html)
    r = client.get("/docs/1.0/api/errors/")
    open("/tmp/docs_page_10.html","w").write(r.content.decode())
    print(r.status_code)
    n2 = seed_docs(staff_user)
    print("created again", n2)
