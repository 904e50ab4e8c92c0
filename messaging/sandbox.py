"""The sandboxed template engine marketer templates are rendered in.

Only a vetted list of tags and filters is available: no {% load %}, {% include %}, {% extends %},
{% url %}, {% debug %}, {% csrf_token %}, no {% autoescape off %} (nor |safe: contact data is
always escaped in HTML); no file loaders; invalid variables render as "". The
context holds plain dicts, strings, numbers and dates built by messaging.selectors, never model
instances, settings or the request, so a template cannot reach anything it was not given.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from django.template import (
    Context,
    Engine,
    Library,
    Template,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import FilterExpression, Node, Variable, VariableNode
from django.utils.safestring import mark_safe

from messaging.render_budget import Budget, RenderLimitExceeded, _budget, instrument, worst_case_context

ALLOWED_TAGS = (
    "comment",
    "cycle",
    "filter",
    "firstof",
    "for",
    "if",
    "ifchanged",
    "now",
    "regroup",
    "resetcycle",
    "spaceless",
    "templatetag",
    "verbatim",
    "widthratio",
    "with",
)
BLOCKED_FILTERS = {"safe", "safeseq", "pprint", "escapejs", "json_script", "unordered_list"}

# --- Limits: a template must not be able to exhaust the worker (CPU or memory) ---------------
# Loop iterations per render (nested loops multiply: 200 x 200 x 200 would be 8 million).
MAX_LOOP_ITERATIONS = 10_000
# Characters a loop may produce per render (nested loops count their output at each level).
MAX_LOOP_OUTPUT = 2_000_000
# Characters (or items) one filter may produce, and the largest width/precision argument.
MAX_VALUE_LENGTH = 64_000
MAX_WIDTH = 1_000
# Whole messages: MESSAGING_RENDER_MAX_BYTES characters over all parts, MESSAGING_RENDER_MAX_SECONDS.


class SandboxForNode(defaulttags.ForNode):
    """Django's ForNode (5.2) with an iteration and output budget shared by the whole render."""

    def render(self, context):
        budget = _budget(context)
        parentloop = context.get("forloop", {})
        with context.push():
            values = self.sequence.resolve(context, ignore_failures=True)
            if values is None:
                values = []
            if not hasattr(values, "__len__"):
                values = list(values)
            len_values = len(values)
            if len_values < 1:
                return self.nodelist_empty.render(context)
            if budget.iterations + len_values > MAX_LOOP_ITERATIONS:
                raise RenderLimitExceeded(
                    f"loops would run more than {MAX_LOOP_ITERATIONS} times in one message"
                )
            budget.iterations += len_values
            budget.tick()
            nodelist = []
            if self.is_reversed:
                values = reversed(values)
            num_loopvars = len(self.loopvars)
            unpack = num_loopvars > 1
            loop_dict = context["forloop"] = {"parentloop": parentloop}
            for i, item in enumerate(values):
                loop_dict["counter0"] = i
                loop_dict["counter"] = i + 1
                loop_dict["revcounter"] = len_values - i
                loop_dict["revcounter0"] = len_values - i - 1
                loop_dict["first"] = i == 0
                loop_dict["last"] = i == len_values - 1
                pop_context = False
                if unpack:
                    try:
                        len_item = len(item)
                    except TypeError:
                        len_item = 1
                    if num_loopvars != len_item:
                        raise ValueError(
                            f"Need {num_loopvars} values to unpack in for loop; got {len_item}. "
                        )
                    context.update(dict(zip(self.loopvars, item, strict=False)))
                    pop_context = True
                else:
                    context[self.loopvars[0]] = item
                for node in self.nodelist_loop:
                    output = node.render_annotated(context)
                    if getattr(node, "sandbox_leaf", True):
                        budget.write(len(output))
                    budget.output += len(output)
                    if budget.output > MAX_LOOP_OUTPUT:
                        raise RenderLimitExceeded(
                            f"loops would write more than {MAX_LOOP_OUTPUT} characters in one message"
                        )
                    nodelist.append(output)
                if pop_context:
                    context.pop()
        return mark_safe("".join(nodelist))  # noqa: S308 - the parts were rendered (escaped) above


def do_for(parser, token):
    node = defaulttags.do_for(parser, token)
    sandboxed = SandboxForNode(
        node.loopvars, node.sequence, node.is_reversed, node.nodelist_loop, node.nodelist_empty
    )
    sandboxed.token = node.token
    return sandboxed


def _int_argument(arg) -> int:
    """The width a filter will use, read the way the filters read it: int() of the value itself
    (a float 1e12 from a literal or contact data truncates), floatformat's g/u suffixes removed."""
    if isinstance(arg, str):
        arg = arg.strip().rstrip("gu") or 0
    try:
        return abs(int(arg))
    except OverflowError:  # int(float("inf")): wider than anything
        return MAX_WIDTH + 1
    except (TypeError, ValueError):
        return 0


def _check_width(name: str, arg) -> None:
    if name in ("ljust", "rjust", "center", "floatformat") and _int_argument(arg) > MAX_WIDTH:
        raise RenderLimitExceeded(f"|{name}:{arg} is wider than {MAX_WIDTH}")
    if name == "stringformat" and any(int(n) > MAX_WIDTH for n in re.findall(r"\d+", str(arg))):
        raise RenderLimitExceeded(f"|stringformat:{arg} is wider than {MAX_WIDTH}")


def _check_join(value, arg) -> None:
    try:
        items = len(value)
        length = len(str(arg)) * items + sum(len(str(item)) for item in value)
    except TypeError:
        return
    if length > MAX_VALUE_LENGTH:
        raise RenderLimitExceeded(f"|join would make a value longer than {MAX_VALUE_LENGTH}")


def _limited(name: str, func):
    """A filter that refuses arguments and results beyond the limits."""

    @functools.wraps(func)
    def limited(value, *args, **kwargs):
        if args:
            _check_width(name, args[0])
            if name == "join":
                _check_join(value, args[0])
        result = func(value, *args, **kwargs)
        if isinstance(result, str | list | tuple) and len(result) > MAX_VALUE_LENGTH:
            raise RenderLimitExceeded(f"|{name} would make a value longer than {MAX_VALUE_LENGTH}")
        return result

    return limited


register = Library()
for _name in ALLOWED_TAGS:
    register.tags[_name] = defaulttags.register.tags[_name]
register.tags["for"] = do_for
for _name, _func in defaultfilters.register.filters.items():
    if _name not in BLOCKED_FILTERS:
        register.filters[_name] = _limited(_name, _func)


class SandboxEngine(Engine):
    # Engine always prepends default_builtins (defaulttags, defaultfilters, loader_tags); we don't.
    default_builtins: list[str] = []


@functools.cache
def sandbox_engine() -> Engine:
    return SandboxEngine(
        dirs=[],
        app_dirs=False,
        loaders=[("django.template.loaders.locmem.Loader", {})],
        context_processors=[],
        debug=False,
        string_if_invalid="",
        libraries={},
        builtins=["messaging.sandbox"],
        autoescape=True,
    )


@functools.lru_cache(maxsize=256)
def compile_template(source: str) -> Template:
    """Compile marketer source (cached by source: a batch compiles each template once);
    raises TemplateSyntaxError. Compiled templates are safe to render from several threads."""
    template = sandbox_engine().from_string(source)
    instrument(template.nodelist)
    return template


def _refuse(*args, **kwargs):
    raise TypeError("template values are read-only")


_refuse.alters_data = True  # Django's template engine never calls these: renders "" instead


class ReadOnlyDict(dict):
    """A dict a template can read but not change ({{ d.clear }} renders "" and changes nothing)."""

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse


class ReadOnlyList(list):
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = reverse = sort = clear = _refuse


def freeze(value: Any) -> Any:
    """A read-only copy of a context: the same values are shared by the messages of a batch. What
    freeze() made is returned as it is (read-only all the way down): a message's context is frozen
    once for all its parts."""
    if type(value) is ReadOnlyDict or type(value) is ReadOnlyList:
        return value
    if isinstance(value, dict):
        return ReadOnlyDict((key, freeze(item)) for key, item in value.items())
    if isinstance(value, list | tuple):
        return ReadOnlyList(freeze(item) for item in value)
    return value


def render(
    source: str, context: dict[str, Any], *, autoescape: bool = True, budget: Budget | None = None
) -> str:
    """Render marketer source; `budget` is shared by the parts of one message (a new one if None).
    Raises RenderLimitExceeded past MESSAGING_RENDER_MAX_BYTES or MESSAGING_RENDER_MAX_SECONDS."""
    template = compile_template(source)
    # The top level stays a plain dict: {% regroup|cycle|now ... as name %} set names there.
    rendered = Context(dict(freeze(context)), autoescape=autoescape)
    rendered.sandbox_budget = budget if budget is not None else Budget()
    # A plain str, not the SafeString render() returns: whoever shows it again (admin preview) escapes it.
    return template.render(rendered) + ""


# --- Validation ----------------------------------------------------------------------------

CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "country",
    "locale",
    "timezone",
    "external_id",
    "signed_up_at",
    "last_activity_at",
    "attributes",
)
PRODUCT_FIELDS = ("id", "sku", "name", "category", "brand", "price", "url", "image_url")
# Root names a template may use, and for dict-shaped roots the keys below them (None = free-form).
VARIABLES: dict[str, tuple[str, ...] | None] = {
    "contact": CONTACT_FIELDS,
    "coupon": None,  # from the journey step (code, expires_at, ...)
    "recommendations": None,
    "bought_again": None,
    "new_arrivals": None,
    "best_sellers": None,
    "unsubscribe_url": (),
    "preferences_url": (),
    "site_url": (),
    "today": (),
    "message": ("id", "channel"),
    "shop": ("name", "logo_url", "address", "currency", "currency_symbol"),  # messaging.email_layout
    "survey_url": (),  # survey step (journeys.steps.survey)
}


def _filter_expressions(obj: Any, seen: set[int]) -> list[FilterExpression]:
    """Every FilterExpression reachable from a compiled node (tags keep them in many shapes)."""
    found: list[FilterExpression] = []
    if id(obj) in seen:
        return found
    seen.add(id(obj))
    if isinstance(obj, FilterExpression):
        found.append(obj)
        return found
    if isinstance(obj, dict):
        values = list(obj.values())
    elif isinstance(obj, list | tuple | set):
        values = list(obj)
    elif (isinstance(obj, Node) or type(obj).__module__.startswith("django.template")) and hasattr(
        obj, "__dict__"
    ):
        values = [v for k, v in vars(obj).items() if k not in ("origin", "token", "source")]
    else:
        return found
    for value in values:
        found.extend(_filter_expressions(value, seen))
    return found


def _lookups(expression: FilterExpression) -> list[tuple[str, ...]]:
    lookups = []
    if isinstance(expression.var, Variable) and expression.var.lookups:
        lookups.append(expression.var.lookups)
    for _func, args in expression.filters:
        for is_lookup, arg in args:
            if is_lookup and isinstance(arg, Variable) and arg.lookups:
                lookups.append(arg.lookups)
    return lookups


def template_problems(source: str) -> list[str]:
    """Syntax errors, unknown variables and a worst case past the render budget in one template
    field, as sentences for a marketer."""
    if not source:
        return []
    try:
        return _template_problems(source) or _budget_problems(source)
    except RecursionError:
        return ["The template is nested too deeply."]


def message_budget_problem(parts: list[tuple[str, bool]]) -> str:
    """The parts of one message ((source, autoescape), as template_render renders them) share one
    budget at send: why their worst case together passes it ("" if it does not)."""
    budget, context = Budget(), worst_case_context()
    try:
        for source, autoescape in parts:
            if source:
                render(source, context, autoescape=autoescape, budget=budget)
    except RenderLimitExceeded as exc:
        return f"Too big for one message: for a contact with long names, all parts together: {exc}."
    except Exception:  # noqa: BLE001 - data-dependent errors show in the preview and fail that message
        return ""
    return ""


def _budget_problems(source: str) -> list[str]:
    try:
        render(source, worst_case_context())
    except RenderLimitExceeded as exc:
        return [f"Too big for one message: for a contact with long names, {exc}."]
    except Exception:  # noqa: BLE001 - data-dependent errors show in the preview and fail that message
        return []
    return []


def _template_problems(source: str) -> list[str]:
    try:
        template = compile_template(source)
    except TemplateSyntaxError as exc:
        return [f"Template syntax error: {exc}"]
    # Names bound inside the template ({% for p in ... %}, {% with x=... %}, {% cycle ... as x %}).
    local_names = {"forloop", "block"}
    for node in template.nodelist.get_nodes_by_type(object):
        local_names.update(getattr(node, "loopvars", []) or [])
        local_names.update((getattr(node, "extra_context", None) or {}).keys())
        for attr in ("variable_name", "var_name", "asvar", "target"):
            value = getattr(node, attr, None)
            if isinstance(value, str):
                local_names.add(value)
    problems: list[str] = []
    expressions: list[FilterExpression] = []
    seen: set[int] = set()
    for node in template.nodelist.get_nodes_by_type(object):
        if isinstance(node, VariableNode):
            expressions.append(node.filter_expression)
        else:
            expressions.extend(_filter_expressions(node, seen))
    for expression in expressions:
        for lookups in _lookups(expression):
            root = lookups[0]
            dotted = ".".join(lookups)
            if root in local_names:
                continue
            if root not in VARIABLES:
                problems.append(f"Unknown variable {dotted!r}. Available: {', '.join(sorted(VARIABLES))}.")
                continue
            allowed = VARIABLES[root]
            if allowed is not None and len(lookups) > 1 and lookups[1] not in allowed:
                choices = ", ".join(f"{root}.{name}" for name in allowed) or f"{root} (no fields)"
                problems.append(f"Unknown variable {dotted!r}. Available: {choices}.")
    return list(dict.fromkeys(problems))
