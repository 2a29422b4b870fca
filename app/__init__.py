"""Replydesk: triage, retrieval, grounded drafts and human approval for marketplace support.

Where a request goes, by folder: ``app/<feature>/controller.py`` (HTTP) calls
``app/<feature>/service.py`` (logic), which uses ``retrieval/`` (knowledge base),
``prompts/`` (templates and prompts) and ``app/db`` (storage). ``evals/`` scores it all offline.
"""

__version__ = "0.1.0"
