"""The course web app: FastAPI routes, pages, settings and the progress database.

It stays thin: content comes from `chapters/`, maths from `simulations/`, training from `labs/`.
"""
