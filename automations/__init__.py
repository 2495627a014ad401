"""The automation engine (seed 003): triggers, actions and the rules that join them.

- triggers/: which domain events start a rule and which facts they offer to its conditions;
- actions/: what a rule can do (mail, task, contact, deal stage, archive), each with its form fields;
- rules.py: rules as stored, checked against the registered triggers and actions, and the shipped ones.

The run activity executes actions, the dispatcher matches triggers, the admin pages list both: one
catalogue for all three. Matching itself is pure (domain/automation_matching.py).
"""
