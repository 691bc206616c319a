"""Deployment to AWS: the Glue artifact (``package``), the Glue job definitions
(``jobs``, ``apply``) and the ``flywheel glue`` commands (``cli``)."""
