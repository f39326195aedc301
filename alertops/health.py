"""GET /healthz: the web process is up. For load balancers; touches no database.

`/api/health` says more (the engine's lease, the database); this answers even
when the database is down, so a balancer does not take every web process out
at once for an outage they cannot fix.
"""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
