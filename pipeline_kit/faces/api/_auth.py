"""Bearer-token authentication, on when the server has a token.

The token is compared in constant time. Without a configured token every
request passes (``serve`` warns when that is on a non-loopback address).
"""

from __future__ import annotations

import hmac

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

bearer = HTTPBearer(auto_error=False, description="the server's token "
                    "($PIPELINE_KIT_API_TOKEN or --token-file)")


def require_token(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> None:
    """401 unless the request carries ``Authorization: Bearer <the server's token>``."""
    token: str | None = request.app.state.settings.token
    if token is None:
        return
    if credentials is None:
        raise HTTPException(401, "authentication required: send 'Authorization: Bearer <token>'",
                            headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(credentials.credentials.encode(), token.encode()):
        raise HTTPException(401, "invalid bearer token",
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
