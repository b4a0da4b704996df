"""The emotion web service: an upload page and a JSON API over the registered champion.

    python -m facial_emotion.serve            # models:/<registry.model_name>@champion on 127.0.0.1:8000

Face detection, cropping and label names come from `facial_emotion.faces` and
`facial_emotion.labels`, exactly as the demo uses them. Nothing is loaded at import: `create_app`
takes an already loaded classifier.
"""
