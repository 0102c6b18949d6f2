"""Hamilton's hello-world dataflow on Polars Series: every function here is a node.

The functions are those of `examples/hello_world/my_functions.py`, the dataflow's one definition
(the example is what users read). The examples folder is not a package, so its source is compiled
under its own path (tracebacks and `inspect.getsource` point at it) and run in this module's
namespace: the functions become this module's, and the module holds nothing else but private
names, because both drivers turn each of its functions into a node. The example's annotations
are real objects (no `from __future__ import annotations`), so Apache Hamilton, which reads them
at run time, resolves them without help.
"""

from pathlib import Path as _Path

_EXAMPLE = _Path(__file__).resolve().parents[2] / "examples" / "hello_world" / "my_functions.py"
exec(compile(_EXAMPLE.read_text(encoding="utf-8"), str(_EXAMPLE), "exec"))
