"""The REST API under /api/, OpenAPI at /api/docs. Each app adds its own Router."""

from ninja import NinjaAPI

from escalation.api import router as escalation_router

api = NinjaAPI(title="AlertOps API", version="1", docs_url="/docs")
api.add_router("/", escalation_router)
