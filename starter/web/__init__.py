"""The FastAPI app: JSON API, prospect forms, office dashboard, dev mail viewer."""
