"""Everything that starts or talks to workflows from outside: web app, CLI, intake, dispatcher."""
