"""The payment page: static HTML, CSS and JS (no build step), its config, security headers.

/checkout            choose a service, a slot and beats; see the server's total; pay
/checkout/success    Stripe's success_url: polls the session and the reservations
/checkout?cancelled=1  Stripe's cancel_url: the same page, offering to try again
/checkout/assets/*   styles and scripts
/api/config          what the page needs to know about this deployment
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from checkout.entrypoints.deps import ContainerDep
from checkout.entrypoints.page_schemas import PageConfig
from checkout.settings import Settings

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
ASSETS_PATH = "/checkout/assets"

router = APIRouter(include_in_schema=False)


def security_headers(settings: Settings) -> dict[str, str]:
    """Headers of every page and asset: scripts only from here (and Clerk when configured)."""
    clerk = settings.clerk_frontend_api
    extra = f" https://{clerk}" if clerk else ""
    # Clerk's components inject styles and use workers and frames (its CSP guide lists these).
    style = "'self' 'unsafe-inline'" if clerk else "'self'"
    policy = "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self'{extra}",
            f"connect-src 'self'{extra}",
            f"img-src 'self' data:{' https://img.clerk.com' if clerk else ''}",
            f"style-src {style}",
            f"frame-src 'self'{extra}",
            "worker-src 'self' blob:",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ]
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        # The success URL carries the session id: it is not handed to other sites.
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        # No hashed file names without a build step: revalidate every time (ETag makes it cheap).
        "Cache-Control": "no-cache",
    }


class _Assets(StaticFiles):
    """StaticFiles that adds the page's security headers."""

    def __init__(self, directory: Path, headers: dict[str, str]) -> None:
        super().__init__(directory=directory)
        self._headers = headers

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(self._headers)
        return response


def _document(name: str, settings: Settings) -> FileResponse:
    return FileResponse(WEB_DIR / name, media_type="text/html", headers=security_headers(settings))


@router.get("/")
async def home() -> RedirectResponse:
    """The page lives at /checkout."""
    return RedirectResponse("/checkout", status_code=307)


@router.get("/checkout")
async def checkout_page(c: ContainerDep) -> FileResponse:
    """Choose, review, pay (also Stripe's cancel_url)."""
    return _document("index.html", c.settings)


@router.get("/checkout/success")
async def success_page(c: ContainerDep) -> FileResponse:
    """Stripe's success_url: what the payment really became."""
    return _document("success.html", c.settings)


@router.get("/api/config", response_model_by_alias=True)
async def config(c: ContainerDep) -> PageConfig:
    """What the page needs to know about this deployment (nothing secret)."""
    s = c.settings
    clerk = s.clerk_frontend_api
    js = f"https://{clerk}/npm/@clerk/clerk-js@{s.clerk_js_version}/dist/clerk.browser.js"
    return PageConfig(
        environment=s.environment,
        dev_sign_in=s.dev_sign_in,
        clerk_publishable_key=s.clerk_publishable_key if clerk else None,
        clerk_js_url=js if clerk else None,
    )


def install(app: FastAPI, settings: Settings) -> None:
    """The page's routes and its assets on `app`."""
    app.include_router(router)
    app.mount(ASSETS_PATH, _Assets(WEB_DIR, security_headers(settings)), name="checkout-assets")
