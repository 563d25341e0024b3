"""The composition root: builds the application from the core and the feature plug-ins.

The one package that knows every feature (``features.py`` lists them in wiring order);
it holds the ``callcenter`` command (``cli.py``), the app factory (``app.py``), ``serve``
and the demo. Nothing imports this package except tests and benchmarks.
"""
