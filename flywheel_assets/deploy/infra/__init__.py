"""Infrastructure as code: the CloudFormation stacks of an environment, generated from
its settings and the table registry (``template``), planned and applied through change
sets (``stacks``); ``flywheel infra template|plan|apply`` (``deploy/cli.py``)."""
