"""The OpenAPI document is the API's and says its real answers; schemathesis finds no failure with any role.

Pages are not in it (they are HTML, for people), every route lists the errors it can give, and log-in is not an
API operation. schemathesis generates requests from the document — valid and invalid — for a customer, a
handläggare and an administrator, and checks every answer against the document: no 5xx, only documented
statuses, bodies of the documented shape and content type.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from core.portal import Portal
from tests.integration.test_api import token_for
from tests.support import World


def test_the_document_lists_the_api_only_with_its_errors(web: Any) -> None:
    document = web.client.get("/schema/openapi.json").json()
    paths = document["paths"]
    assert paths and all(path.startswith("/api/v1/") for path in paths), sorted(paths)
    for path, operations in paths.items():
        for method, operation in operations.items():
            answers = set(operation["responses"])
            assert {"401", "429"} <= answers, (method, path, answers)
            if "{request_id}" in path:
                assert "404" in answers, (method, path)
            if method == "post" and operation.get("requestBody"):
                assert {"400", "422"} & answers, (method, path)
    assert document["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    problem = document["components"]["schemas"]["Problem"]
    assert {"detail", "status_code"} <= set(problem["required"])


ROLES = ("member", "staff", "staff_admin")
"""A customer, a handläggare and an administrator: every operation is tried as each."""


def test_schemathesis_finds_no_failure_with_any_role(app: Any, portal: Portal, world: World) -> None:
    """Every operation, valid and invalid requests drawn from the document, as each of the three roles.

    The role's token is given through schemathesis's auth provider, so its auth check can also probe the
    operation without it and with a made-up one. (schemathesis's own pytest integration does not run under
    this pytest, so the operations' hypothesis strategies are driven here directly.)
    """
    for role in ROLES:
        token = token_for(portal, getattr(world, role))["authorization"]
        schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
        # The document says it: no text may contain NUL (refused with 400 at the edge), which JSON Schema cannot.
        assert "NUL" in schema.raw_schema["info"]["description"]
        schema.config.generation.update(allow_x00=False)

        @schema.auth()
        class RoleToken:
            bearer = token  # bound now: this schema is this role's

            def get(self, case: Any, context: Any) -> str:
                return self.bearer

            def set(self, case: Any, data: str, context: Any) -> None:
                case.headers = {**(case.headers or {}), "Authorization": data}

        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 15

        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
            def answers_as_documented(case: Any) -> None:
                case.call_and_validate()

            answers_as_documented()
