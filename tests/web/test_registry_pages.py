import pytest

from governance.models import ApiToken, ModelVersion
from tests.factories import PASSWORD, ModelVersionFactory, RegisteredModelFactory


@pytest.fixture
def family(team):
    model = RegisteredModelFactory(project=team.project, name="aurora")
    base = ModelVersionFactory(registered_model=model, version="1.0")
    chat = ModelVersionFactory(
        registered_model=model, version="1.0-chat", adaptation="full_fine_tune", base_version=base
    )
    lora = ModelVersionFactory(registered_model=model, version="1.1-lora", adaptation="adapter", base_version=chat)
    return model, base, chat, lora


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_anonymous_is_sent_to_login(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_login_form_logs_in_and_out(client, team):
    response = client.post("/login/", {"username": "mllead", "password": PASSWORD}, follow=True)
    assert b"<h1>Dashboard</h1>" in response.content
    response = client.post("/logout/", follow=True)
    assert b"Log in to Greenlight" in response.content


def test_registry_lists_my_projects_only(client, team):
    response = login(client, team.reviewer).get("/")
    assert b"Aurora" in response.content
    response = login(client, team.outsider).get("/")
    assert b"Aurora" not in response.content
    assert b"not a member of any project" in response.content


def test_outsider_gets_404_on_every_registry_page(client, team, family):
    model, base, _, _ = family
    login(client, team.outsider)
    for url in ("/projects/aurora/", f"/projects/aurora/models/{model.pk}/", f"/versions/{base.pk}/"):
        assert client.get(url).status_code == 404, url


def test_version_page_shows_lineage_back_to_the_root(client, team, family):
    _, base, _, lora = family
    html = login(client, team.auditor).get(f"/versions/{lora.pk}/").content.decode()
    assert html.index("aurora 1.0<") < html.index("aurora 1.0-chat") < html.index("<strong>aurora 1.1-lora")
    assert "LoRA / adapter" in html
    html = client.get(f"/versions/{base.pk}/").content.decode()
    assert "aurora 1.0-chat" in html  # listed as derived


def test_model_page_registers_a_version_through_the_form(client, team, family):
    model, base, _, _ = family
    login(client, team.ml_lead)
    response = client.post(
        f"/projects/aurora/models/{model.pk}/",
        {
            "version": "2.0-int4",
            "base_version": base.pk,
            "adaptation": "quantisation",
            "parameters": 7_000_000_000,
            "precision": "int4",
            "modality": "text",
        },
        follow=True,
    )
    assert b"Version aurora 2.0-int4 registered" in response.content
    assert ModelVersion.objects.get(version="2.0-int4").base_version == base


def test_reviewer_sees_why_they_cannot_register(client, team, family):
    model, _, _, _ = family
    login(client, team.reviewer)
    response = client.post(
        f"/projects/aurora/models/{model.pk}/",
        {"version": "3", "adaptation": "pretraining", "parameters": 1, "precision": "bf16", "modality": "text"},
    )
    assert response.status_code == 200
    assert "needs the project owner or the role" in response.content.decode()
    assert not ModelVersion.objects.filter(version="3").exists()


def test_create_project_from_the_registry_page(client, team):
    response = login(client, team.outsider).post("/", {"name": "Nova", "slug": "nova"}, follow=True)
    assert response.request["PATH_INFO"] == "/projects/nova/"


def test_tokens_page_issues_once_and_revokes(client, team):
    login(client, team.pipeline)
    response = client.post("/account/tokens/", {"name": "ci", "scopes": ["registry:read"]})
    secret = response.context["secret"]
    assert secret.startswith("glt_") and secret in response.content.decode()
    assert secret not in client.get("/account/tokens/").content.decode()
    token = ApiToken.objects.get(user=team.pipeline)
    client.post(f"/account/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_cannot_revoke_someone_elses_token(client, team):
    from governance.services.tokens import issue_token

    token, _ = issue_token(user=team.pipeline, name="ci", scopes=["registry:read"])
    assert login(client, team.outsider).post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_registry_forms_show_only_to_those_who_may_register(client, team, family):
    model, base, *_ = family
    pages = (
        f"/projects/{team.project.slug}/",
        f"/projects/{team.project.slug}/models/{model.pk}/",
        f"/versions/{base.pk}/",
    )
    buttons = ("Register model", "Register version", "Start an impact review")
    for person, shown in ((team.ml_lead, True), (team.owner, True), (team.reviewer, False), (team.officer, False)):
        client.logout()
        login(client, person)
        for page, button in zip(pages, buttons, strict=True):
            assert (button in client.get(page).content.decode()) is shown, (person.username, page)
    response = client.post(f"/projects/{team.project.slug}/", {"name": "sneaky"}, follow=True)
    assert "needs the project owner or the role" in response.content.decode()  # refused all the same


def test_the_owner_connects_mlflow_and_sees_its_secret_once(client, team):
    page = login(client, team.owner).get("/projects/aurora/")
    assert b"Connect MLflow" in page.content and b"Not connected" in page.content
    refused = client.post(
        "/projects/aurora/mlflow/connect/", {"default_author": team.reviewer.pk, "production_aliases": "prod"}
    )
    assert refused.status_code == 400 and b"Select a valid choice" in refused.content  # a reviewer cannot author
    connected = client.post(
        "/projects/aurora/mlflow/connect/", {"default_author": team.ml_lead.pk, "production_aliases": "prod, live"}
    )
    secret = team.project.mlflow_hook.secret
    assert connected.status_code == 200 and secret.encode() in connected.content
    assert team.project.mlflow_hook.production_aliases == ["prod", "live"]
    again = client.get("/projects/aurora/")
    assert secret.encode() not in again.content and b"/api/v1/integrations/mlflow/aurora/" in again.content
    assert b"No deliveries yet" in again.content and b"Reconnect with a new secret" in again.content
    member = login(client, team.officer).get("/projects/aurora/")
    assert b"MLflow registry" in member.content and b"Reconnect" not in member.content
    assert (
        login(client, team.ml_lead)
        .post("/projects/aurora/mlflow/connect/", {"default_author": team.ml_lead.pk, "production_aliases": "x"})
        .status_code
        == 400
    )
