"""The API's routes, one APIRouter module per resource (included by entrypoints.app)."""
