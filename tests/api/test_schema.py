def test_openapi_schema_lists_the_registry(client):
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/v1/projects/", "/api/v1/models/", "/api/v1/model-versions/", "/api/v1/model-versions/{id}/"):
        assert path in paths, path
    assert "apiToken" in response.json()["components"]["securitySchemes"]


def test_interactive_docs_are_served_without_outside_assets(client):
    html = client.get("/api/v1/docs/").content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html


def test_schema_generates_without_warnings(db, tmp_path):
    from django.core.management import call_command

    # The same warnings fail `check --deploy` in CI; catching them here names the view.
    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3")


def test_estimate_schema_is_typed_and_every_input_says_its_unit_and_scope(client, team):
    from jsonschema import validate

    schema = client.get("/api/v1/schema/?format=json").json()
    components = schema["components"]["schemas"]
    answer = schema["paths"]["/api/v1/estimates/"]["post"]["responses"]["200"]["content"]["application/json"]
    assert answer["schema"] == {"$ref": "#/components/schemas/EstimateOutput"}
    inputs = components["EstimateInputRequest"]["properties"]
    for name in ("power_per_accelerator_w", "energy_kwh"):
        assert "W" in inputs[name]["description"] or "kWh" in inputs[name]["description"]
        assert "scope" in inputs[name]["description"]
    assert (
        "'node'" in inputs["power_scope"]["description"]
        and "Default 'accelerator'" in inputs["energy_scope"]["description"]
    )
    # A real answer validates against the published schema.
    from tests.conftest import client_for

    body = (
        client_for(team.ml_lead)
        .post(
            "/api/v1/estimates/",
            {"accelerator_hours": 10, "hardware": "h100-sxm", "facility": "jean-zay"},
            format="json",
        )
        .json()
    )
    resolver = {"$ref": "#/components/schemas/EstimateOutput", "components": json_schema(schema["components"])}
    validate(body, resolver)


def json_schema(node):
    """OpenAPI 3.0's `nullable` as JSON Schema's null type, so jsonschema can check an answer."""
    if isinstance(node, list):
        return [json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: json_schema(v) for k, v in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


def test_every_operation_documents_the_error_shape_and_unknown_api_paths_answer_it(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert {"400", "401", "403", "404"} <= set(operation["responses"]), (method, path)
    missing = client.get("/api/v1/no-such-thing/")
    assert missing.status_code == 404 and missing.json() == {"message": "Not found.", "errors": {}}


def test_options_on_every_endpoint_is_never_a_server_error(team):
    """What the fuzzer found once: OPTIONS describes a view through its serializer."""
    import re

    from django.urls import URLResolver

    from config.urls import api_v1
    from tests.conftest import client_for

    def routes(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from routes(p.url_patterns, prefix + str(p.pattern))
            else:
                yield prefix + str(p.pattern)

    client = client_for(team.owner)
    failing = [
        url
        for route in routes(api_v1, "/api/v1/")
        if not route.endswith(("schema/", "docs/", "redoc/"))  # HTML documentation pages
        for url in [re.sub(r"<[^>]+>", "0", route)]
        if client.options(url).status_code >= 500
    ]
    assert failing == []
