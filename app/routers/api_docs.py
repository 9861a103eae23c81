"""The API's Swagger UI, from the swagger-ui-dist npm package (never a CDN) and without inline script,
so it works under the CSP. Included only when the settings turn the API docs on (off in production)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["docs"], include_in_schema=False)

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Fine-Tuning in Practice: API</title>
  <link rel="stylesheet" href="{css}">
</head>
<body>
  <div id="swagger-ui" data-openapi-url="/openapi.json"></div>
  <script src="{bundle}"></script>
  <script src="{glue}"></script>
</body>
</html>
"""


@router.get("/api/docs", response_class=HTMLResponse)
def read_api_docs(request: Request) -> HTMLResponse:
    """Swagger UI over /openapi.json."""
    url = request.app.state.assets.url
    return HTMLResponse(PAGE.format(css=url("vendor/swagger-ui.css"), bundle=url("vendor/swagger-ui-bundle.js"),
                                    glue=url("api-docs.js")))
