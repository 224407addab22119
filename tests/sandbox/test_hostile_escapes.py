"""Hostile code: introspection escapes, forbidden builtins and imports, SDK tampering.

Each case runs against the real runner and SDK and must end as a clean error of the run (a
compile error naming the line, or a user-level exception), with the worker untouched.
"""

from __future__ import annotations

import os

import pytest

from chronoflow.sandbox import RunStatus

from .conftest import HOST_SECRET


def denied(result, *fragments: str) -> None:
    """The run failed cleanly, and its error mentions every fragment."""
    assert result.status is RunStatus.FAILED, result
    assert result.result is None and result.state is None
    for fragment in fragments:
        assert fragment in result.error, result.error
    assert "/work" not in (result.traceback or "") and "site-packages" not in (result.traceback or "")


def test_class_hierarchy_walk(run):
    """It denies walking ().__class__.__bases__[0].__subclasses__()."""
    denied(run("def run(ctx):\n    return ().__class__.__bases__[0].__subclasses__()\n"), "line 2", "__subclasses__")


def test_subclasses_via_builtin_type(run):
    """It denies str.__subclasses__() on a builtin class."""
    denied(run("def run(ctx):\n    return str.__subclasses__()\n"), "__subclasses__")


def test_mro_walk_at_runtime(run):
    """It denies reaching object through a class's public mro()."""
    denied(run("def run(ctx):\n    return ZeroDivisionError.mro()[-1]\n"), "mro")


def test_function_globals(run):
    """It denies run.__globals__."""
    denied(run("def run(ctx):\n    return run.__globals__\n"), "__globals__")


def test_sdk_method_self_and_func(run):
    """It denies ctx.log.__self__ / __func__ to reach the channel."""
    denied(run("def run(ctx):\n    return ctx.log.__func__.__globals__\n"), "line 2", "__")


def test_private_channel_attribute(run):
    """It denies ctx._call, the stub's only private member."""
    denied(run("def run(ctx):\n    return ctx._call('log', {'text': 'x'})\n"), "_call")


def test_generator_frame(run):
    """It denies gen.gi_frame.f_back.f_globals (RestrictedPython advisory: generator frames)."""
    code = "def run(ctx):\n    g = (x for x in [1])\n    return g.gi_frame.f_back.f_globals\n"
    denied(run(code), "line 3", "restricted name")


def test_generator_code(run):
    """It denies gen.gi_code."""
    denied(run("def gen():\n    yield 1\ndef run(ctx):\n    return gen().gi_code\n"), "gi_code")


def test_coroutine_frame(run):
    """It denies coroutines (cr_frame walks): async def is refused."""
    denied(run("async def c():\n    pass\ndef run(ctx):\n    return c().cr_frame\n"), "line 1")


def test_async_generator_frame(run):
    """It denies async generators (ag_frame walks)."""
    denied(run("async def g():\n    yield 1\ndef run(ctx):\n    return g().ag_frame\n"), "line 1")


def test_traceback_frame(run):
    """It denies exc.__traceback__.tb_frame."""
    code = "def run(ctx):\n    try:\n        1 / 0\n    except Exception as e:\n        return e.__traceback__.tb_frame\n"
    denied(run(code), "line 5", "restricted name")


def test_exception_obj_attribute(run):
    """It denies AttributeError.obj (advisory), which could carry a host object."""
    code = "def run(ctx):\n    try:\n        ctx.http.nothing\n    except AttributeError as e:\n        return e.obj\n"
    denied(run(code), "'obj'")


def test_str_format_attribute_walk(run):
    """It denies '{0.__init__.__globals__}'.format(x) (advisory: str.format)."""
    denied(run("def run(ctx):\n    return '{0.__init__.__globals__}'.format(ctx)\n"), "format")


def test_str_format_map_walk(run):
    """It denies format_map attribute walks (advisory: format_map)."""
    denied(run("def run(ctx):\n    return '{c.log.__self__}'.format_map({'c': ctx})\n"), "format")


def test_unbound_str_format(run):
    """It denies str.format called unbound."""
    denied(run("def run(ctx):\n    return str.format('{0.__class__}', ctx)\n"), "format")


def test_str_subclass_format(run):
    """It denies format on a user str subclass."""
    code = "class S(str):\n    pass\ndef run(ctx):\n    return S('{0.__class__}').format(1)\n"
    denied(run(code), "format")


def test_string_formatter(run):
    """It denies string.Formatter (advisory): the string module is not importable."""
    denied(run("import string\ndef run(ctx):\n    return string.Formatter().format('{0.__class__}', 1)\n"), "ImportError")


def test_fstring_dunder(run):
    """It denies dunder attributes inside f-strings."""
    denied(run("def run(ctx):\n    return f'{ctx.__class__}'\n"), "__class__")


def test_getattr_computed_name(run):
    """It denies getattr with a computed name: getattr is not a builtin."""
    denied(run("def run(ctx):\n    return getattr(ctx, '__cl' + 'ass__')\n"), "NameError", "getattr")


def test_vars(run):
    """It denies vars()."""
    denied(run("def run(ctx):\n    return vars(ctx)\n"), "NameError")


def test_type_builtin(run):
    """It denies type(): no class objects of host values, no three-argument type()."""
    denied(run("def run(ctx):\n    return type(ctx)\n"), "NameError")


def test_dir_globals_locals(run):
    """It denies dir(), globals() and locals()."""
    denied(run("def run(ctx):\n    return [dir(), globals(), locals()]\n"), "NameError")


def test_builtins_access(run):
    """It denies __builtins__ access."""
    denied(run("def run(ctx):\n    return __builtins__['open']\n"), "__builtins__")


def test_eval_exec_compile(run):
    """It denies eval/exec/compile."""
    denied(run("def run(ctx):\n    return eval('1 + 1')\n"), "line 2")


def test_dunder_import(run):
    """It denies __import__('os')."""
    denied(run("def run(ctx):\n    return __import__('os')\n"), "__import__")


@pytest.mark.parametrize("module", ["os", "sys", "subprocess", "socket", "ctypes", "importlib", "builtins",
                                    "operator", "posix", "gc", "inspect"])
def test_import_forbidden_module(run, module):
    """It denies importing host modules."""
    denied(run(f"import {module}\ndef run(ctx):\n    return 1\n"), module)


def test_import_from_forbidden(run):
    """It denies from-imports of host modules, including relative ones."""
    denied(run("from os import system\ndef run(ctx):\n    return 1\n"), "ImportError")


def test_wrapped_json_has_no_module(run):
    """It denies json.codecs: the json facade exposes named functions only."""
    denied(run("import json\ndef run(ctx):\n    return json.codecs.open\n"), "AttributeError")


def test_wrapped_re_has_no_module(run):
    """It denies re.enum.sys."""
    denied(run("import re\ndef run(ctx):\n    return re.enum.sys\n"), "AttributeError")


def test_wrapped_datetime_has_no_module(run):
    """It denies datetime.sys."""
    denied(run("import datetime\ndef run(ctx):\n    return datetime.sys\n"), "AttributeError")


def test_facade_is_read_only(run):
    """It denies replacing a facade's function."""
    denied(run("import json\ndef run(ctx):\n    json.loads = None\n"), "cannot be modified")


def test_positional_only_guard_shadowing(run):
    """It denies shadowing a guard with a positional-only parameter (advisory)."""
    denied(run("def f(_getattr_, /):\n    return 1\ndef run(ctx):\n    return f(1)\n"), "_getattr_")


def test_except_star(run):
    """It denies except* (advisory)."""
    code = "def run(ctx):\n    try:\n        pass\n    except* ValueError:\n        pass\n"
    denied(run(code), "line")


def test_open_file(run):
    """It denies open(); nothing is read from or written to the host."""
    target = "/tmp/chronoflow-sandbox-escape"
    denied(run(f"def run(ctx):\n    open('{target}', 'w').write('pwned')\n"), "NameError")
    assert not os.path.exists(target)


def test_host_environment_invisible(run):
    """It denies seeing the worker's environment: ctx.env holds only the allowed variables."""
    result = run("def run(ctx):\n    return sorted(ctx.env)\n")
    assert result.result == ["GREETING"]
    assert HOST_SECRET in os.environ


def test_sdk_allowlist_tampering(run):
    """It denies ctx.http.allowed_hosts.append(...): the stub holds no allowlist."""
    denied(run("def run(ctx):\n    ctx.http.allowed_hosts.append('evil.com')\n"), "AttributeError")


def test_sdk_client_access(run):
    """It denies ctx.http.client: the stub holds no HTTP client."""
    denied(run("def run(ctx):\n    return ctx.http.client\n"), "AttributeError")


def test_sdk_attribute_overwrite(run):
    """It denies replacing ctx.http or ctx.state.get."""
    denied(run("def run(ctx):\n    ctx.http = None\n"), "cannot be modified")


def test_forged_sdk_call(run):
    """It denies calling the broker with a made-up operation through any public route."""
    denied(run("def run(ctx):\n    return ctx.http.request('CONNECT', 'http://localhost/')\n"), "TypeError")


def test_breakpoint_and_help(run):
    """It denies breakpoint()."""
    denied(run("def run(ctx):\n    breakpoint()\n"), "breakpoint")


def test_system_exit_is_clean(run):
    """It denies ending the sandbox through SystemExit: the run just fails."""
    denied(run("def run(ctx):\n    raise SystemExit(0)\n"), "SystemExit")


def test_internal_helper_module_import(run):
    """It denies from-importing the helpers C code may load lazily (from _strptime import calendar)."""
    denied(run("from _strptime import calendar\ndef run(ctx):\n    return calendar\n"), "ImportError")
