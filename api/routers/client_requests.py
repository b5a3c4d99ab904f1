"""Client requests, for staff (filled in the next step)."""

from fastapi import APIRouter

router = APIRouter(tags=["client requests"])
