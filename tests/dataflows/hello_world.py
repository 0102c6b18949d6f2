"""Hamilton's hello-world dataflow, written against Polars Series: the functions of
`examples/hello_world/my_functions.py`, its one definition (the example is what users read).

Inputs: `spend` and `signups` (Series). Columns and scalars mixed, so result builders must broadcast
`spend_mean` and `spend_std_dev`.

The examples folder is not a package, so the example's source is compiled under its own path
(tracebacks and `inspect.getsource` point at it) and run in this module's namespace: its functions
become this module's functions, which is how both drivers find a module's nodes.
"""

from pathlib import Path as _Path

_EXAMPLE = _Path(__file__).resolve().parents[2] / "examples" / "hello_world" / "my_functions.py"
exec(compile(_EXAMPLE.read_text(encoding="utf-8"), str(_EXAMPLE), "exec"))
