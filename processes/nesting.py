"""How deeply user text may nest, checked before Jinja2's recursive parser and compiler see it.

Jinja2 parses brackets, unary operators and `if ... else` chains by recursion, and compiles
every expression and block by recursion into Python, whose own compiler refuses more than
200 nested parentheses, 100 levels of indentation or 20 nested loops. Past those, a text
fails with a `RecursionError` or a `SyntaxError` that depends on the caller's stack (80
parentheses failed where 60 passed). Here the depth is counted on the lexer's tokens (no
recursion) and then on the parsed tree, against one documented bound, so a text that saves
is one that renders.
"""

from __future__ import annotations

from typing import Any

from jinja2 import nodes

MAX_NESTING = 30  # brackets, blocks, operators and filters inside each other
MAX_LOOPS = 10  # `for` loops inside each other (Python allows 20 nested blocks)

_OPENING_TAGS = frozenset({"for", "if", "macro", "call", "filter", "with", "block", "autoescape", "trans"})
_OPEN = frozenset({"lparen", "lbracket", "lbrace"})
_CLOSE = frozenset({"rparen", "rbracket", "rbrace"})
# after these a '-' or '+' is a sign, not a subtraction or an addition
_BEFORE_OPERAND = frozenset({"variable_begin", "block_begin", "lparen", "lbracket", "lbrace", "comma", "colon",
                             "add", "sub", "mul", "div", "floordiv", "mod", "pow", "tilde", "eq", "ne", "lt",
                             "lteq", "gt", "gteq", "assign"})
_KEYWORDS_BEFORE_OPERAND = frozenset({"not", "and", "or", "in", "is", "if", "else"})


class TooDeep(Exception):
    """User text nested past the bound; `message` says where."""

    def __init__(self, lineno: int, loops: bool = False) -> None:
        self.lineno = lineno
        self.message = (f"line {lineno}: more than {MAX_LOOPS} loops inside each other" if loops else
                        f"line {lineno}: nested more than {MAX_NESTING} levels deep "
                        "(brackets, blocks, operators or filters inside each other)")
        super().__init__(self.message)


def check_tokens(env: Any, source: str) -> None:
    """Raise `TooDeep` when brackets, blocks, sign operators and `else` chains nest past `MAX_NESTING`.

    The lexer's own syntax errors (an unclosed bracket) are left to the parser, which reports them."""
    from jinja2 import TemplateSyntaxError

    blocks = brackets = signs = chained = 0
    previous = ("", None)
    tag: list[str] = []  # the tokens of the block tag being read
    try:
        for token in env.lexer.tokenize(source):
            kind, value = token.type, token.value
            if kind in ("variable_begin", "block_begin"):
                tag, chained = [], 0
            elif kind == "block_end" and tag:
                name = tag[0]
                if name in _OPENING_TAGS or (name == "set" and "assign" not in tag[1:]):
                    blocks += 1
                elif name.startswith("end"):
                    blocks = max(blocks - 1, 0)
            if previous[0] == "block_begin" and kind == "name":
                tag.append(value)
            elif tag and kind != "block_end":
                tag.append(kind)
            if kind in _OPEN:
                brackets += 1
            elif kind in _CLOSE:
                brackets = max(brackets - 1, 0)
            sign = (kind in ("add", "sub") and (previous[0] in _BEFORE_OPERAND or previous[1] in
                                                _KEYWORDS_BEFORE_OPERAND)) or (kind == "name" and value == "not")
            signs = signs + 1 if sign else 0
            if kind == "name" and value == "else" and previous[0] not in ("block_begin",):
                chained += 1
            if blocks + brackets + signs + chained > MAX_NESTING:
                raise TooDeep(token.lineno)
            previous = (kind, value if kind == "name" else None)
    except TemplateSyntaxError:
        return


def check_ast_depth(ast: nodes.Node) -> None:
    """Raise `TooDeep` when the parsed text nests past `MAX_NESTING` (chains of `+`, `and`, filters or
    attributes are nested in the tree), or has more than `MAX_LOOPS` loops inside each other."""
    stack: list[tuple[nodes.Node, int, int]] = [(ast, 0, 0)]
    while stack:
        node, depth, loops = stack.pop()
        if isinstance(node, nodes.For):
            loops += 1
            if loops > MAX_LOOPS:
                raise TooDeep(node.lineno, loops=True)
        if depth > MAX_NESTING:
            raise TooDeep(getattr(node, "lineno", 1) or 1)
        stack.extend((child, depth + 1, loops) for child in node.iter_child_nodes())
