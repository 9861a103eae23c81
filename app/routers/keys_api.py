"""API keys over JSON (`/api/keys`: create, list, revoke) and a run's served name (`PATCH /api/labs/runs/{id}`).
Cookie-authenticated and CSRF-checked like the rest of /api; the keys themselves are for /v1."""

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from app.deps import ObjectId, SessionsDep, SettingsDep
from app.errors import AppError
from app.forms import read_json_object
from app.identity import CurrentVisitor
from app.serving.keys import create_key_for, list_keys, revoke_key
from app.serving.served_names import set_served_name

router = APIRouter(prefix="/api", tags=["keys"])


@router.post("/keys", status_code=201)
async def create_api_key(request: Request, sessions: SessionsDep, settings: SettingsDep,
                         visitor: CurrentVisitor) -> dict:
    """Create a key; the response is the only time its secret is shown."""
    fields = await read_json_object(request, 'send JSON like {"name": "laptop notebook"}')
    key, secret = await run_in_threadpool(create_key_for, sessions, settings, visitor, fields.get("name"))
    return {"id": key.id, "name": key.name, "key": secret, "prefix": key.prefix}


@router.get("/keys")
def read_api_keys(sessions: SessionsDep, visitor: CurrentVisitor) -> list[dict]:
    """Your keys, without their secrets: name, prefix, created, last used, revoked."""
    return [key.as_json() for key in list_keys(sessions, visitor.learner_ids)]


@router.delete("/keys/{key_id}", status_code=204)
def delete_api_key(key_id: ObjectId, sessions: SessionsDep, visitor: CurrentVisitor) -> Response:
    """Revoke a key of yours: /v1 refuses it from now on."""
    revoke_key(sessions, key_id, visitor.learner_ids)
    return Response(status_code=204)


@router.patch("/labs/runs/{run_id}")
async def update_run_served_name(run_id: str, request: Request, sessions: SessionsDep, settings: SettingsDep,
                                 visitor: CurrentVisitor) -> dict:
    """Give one of your runs a name to use as the model in /v1 (`{"served_name": "legal-v2"}`; null clears it)."""
    fields = await read_json_object(request, 'send JSON like {"served_name": "legal-v2"}')
    if "served_name" not in fields:
        raise AppError(422, "served_name: Field required (send null to clear the name).")
    name = await run_in_threadpool(set_served_name, sessions, run_id, visitor.learner_ids, fields["served_name"],
                                   settings)
    return {"id": run_id, "served_name": name}
