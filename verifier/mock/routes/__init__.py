"""The mock tracker's pages, one router per page group (the order is the order of a login)."""

from __future__ import annotations

from . import account, admin, enrolment, login, second_factor, security_keys

ROUTERS = (login.router, second_factor.router, enrolment.router, security_keys.router, account.router,
           admin.router)

__all__ = ["ROUTERS"]
