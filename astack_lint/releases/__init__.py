"""Which FastAPI and Starlette releases a project runs, and what that means for a rule."""
