"""Writes and business rules for AI-assisted drafts, one module per concern:

- `runs`: ask for a draft or an editor's rewrite/continuation, cancel it, claim it in a worker,
  and queue again the runs whose worker died;
- `execute`: run the LangGraph workflow (generation/workflow.py) for a claimed run, with our
  retriever, the channel's model on the runtime, the guard, the step recorder and the finalisers
  that save the outcome;
- `stream`: the live text, both ends, on a Redis stream per run;
- `sanitize`: the clinical channel's de-identification of every text a run stores;
- `voice`: the author's voice guide.

Who may do what is asked of accounts.permissions; views and tasks stay thin over these functions.
"""
