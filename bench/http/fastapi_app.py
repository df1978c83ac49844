"""The same two endpoints in the stack the original plan named (FastAPI +
uvicorn), for bench/http/run.sh to compare against."""
import hmac
import os
import time

from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse

app = FastAPI()
STARTED = time.monotonic()
KEY = os.environ.get("AUTH_KEY", "")


@app.get("/healthz")
def healthz():
    return {"status": "ok", "version": "0.1.0", "uptime_seconds": time.monotonic() - STARTED}


@app.get("/api/auth/status")
def auth_status(authorization: str = Header(default="")):
    token = authorization[7:] if authorization.lower().startswith("bearer ") else ""
    if not KEY or not hmac.compare_digest(token, KEY):
        return JSONResponse(status_code=401, content={"error": {"code": "unauthorized",
                            "message": "authentication required", "hint": None}})
    return {"authenticated": True, "role": "admin", "method": "api_key",
            "methods_configured": ["api_key"]}
