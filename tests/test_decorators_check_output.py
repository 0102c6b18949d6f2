"""``@check_output`` / ``@check_output_custom``: Hamilton's nodes and outcomes, checked in-query.

One module template runs through both libraries (only its import lines differ). Apache Hamilton's
default validators handle pandas Series only, so for the oracle its own pandas validators are
registered for ``pl.Series`` too, fed ``series.to_pandas()``: the reference outcome is Hamilton's
code on the same data. hamilton_fast must give the same node names, tags, docs, values and
pass/fail per validator (with the same figures), and evaluate the checks inside the one query.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

import numpy as np
import polars as pl
import pytest
from hamilton import base as h_base
from hamilton import driver as h_driver
from hamilton.data_quality import default_validators as h_default_validators
from polars.testing import assert_series_equal

from hamilton_fast import base, driver
from hamilton_fast.data_quality.base import ValidationResult
from hamilton_fast.data_quality.default_validators import (
    DataInRangeValidatorPolarsColumn,
    DataInValuesValidatorPolarsColumn,
    DataTypeValidatorPolarsColumn,
    MaxFractionNansValidatorPolarsColumn,
    MeanInRangeValidatorPolarsColumn,
)
from hamilton_fast.errors import DataValidationError, GraphError, ModifierError, NodeError
from tests.helpers import load_module

RAW = pl.DataFrame(
    {
        "spend": [10.0, 20.0, None, 200.0, float("nan"), 30.0],
        "signups": [1, 2, 3, 4, 5, 6],
        "region": ["north", "south", None, "west", "north", "south"],
    }
)
INPUTS = {"raw": RAW}

TEMPLATE = '''
import numpy as np
import polars as pl
from {lib}.data_quality.base import BaseDefaultValidator, DataValidator, ValidationResult
from {lib}.function_modifiers import check_output, check_output_custom, extract_columns


class AtMost(DataValidator):
    """A custom validator: the largest value is at most `limit`."""

    def __init__(self, limit, importance):
        super().__init__(importance)
        self.limit = limit

    def applies_to(self, datatype):
        return True

    def description(self):
        return f"Validates that no value exceeds {{self.limit}}."

    @classmethod
    def name(cls):
        return "at_most"

    def validate(self, dataset):
        largest = dataset.max()
        passes = largest <= self.limit
        return ValidationResult(passes, f"max is {{largest}}", {{"max": largest}})


class HasColumns(DataValidator):
    """A custom validator for frames."""

    def __init__(self, columns, importance):
        super().__init__(importance)
        self.columns = columns

    def applies_to(self, datatype):
        return True

    def description(self):
        return "Validates the frame's columns."

    @classmethod
    def name(cls):
        return "has_columns"

    def validate(self, dataset):
        missing = [c for c in self.columns if c not in dataset.columns]
        return ValidationResult(not missing, f"missing {{missing}}", {{"missing": missing}})


class NonNegative(BaseDefaultValidator):
    """A user-written default validator, chosen by its keyword `non_negative`."""

    def __init__(self, non_negative, importance):
        super().__init__(importance)
        self.non_negative = non_negative

    @classmethod
    def arg(cls):
        return "non_negative"

    @classmethod
    def applies_to(cls, datatype):
        return True

    def description(self):
        return "Validates that no value is negative."

    def validate(self, data):
        negative = int((data < 0).sum())
        return ValidationResult(negative == 0, f"{{negative}} negative", {{"negative": negative}})


@extract_columns("spend", "signups", "region")
def raw_frame(raw: pl.DataFrame) -> pl.DataFrame:
    return raw


@check_output(
    range=(0, 250),
    allow_nans=False,
    max_fraction_nans=0.5,
    mean_in_range=(0, 50),
    max_standard_dev=100,
    data_type=np.floating,
)
def spend_checked(spend: pl.Series) -> pl.Series:
    """Spend, checked."""
    return spend * 1.0


@check_output(
    range=(1, 6),
    values_in=[1, 2, 3, 4, 5, 6],
    data_type=np.int64,
    allow_nans=False,
    mean_in_range=(3, 4),
    max_standard_dev=1.0,
    max_fraction_nans=0.0,
    importance="warn",
)
def signups_checked(signups: pl.Series) -> pl.Series:
    return signups + 0


@check_output(values_in=["north", "south"], max_fraction_nans=0.1)
def region_checked(region: pl.Series) -> pl.Series:
    return region


@check_output(range=(0, 10), data_type=int, values_in=[21])
def total_signups(signups: pl.Series) -> int:
    return signups.sum()


@check_output(range=(0, 3), importance="fail")
def signups_strict(signups: pl.Series) -> pl.Series:
    return signups * 1


@check_output_custom(AtMost(1000, "warn"), AtMost(100, "warn"))
def spend_custom(spend: pl.Series) -> pl.Series:
    return spend + 0.0


@check_output(non_negative=True, default_validator_candidates=[NonNegative])
def signups_shifted(signups: pl.Series) -> pl.Series:
    return signups - 2


@check_output_custom(AtMost(3, "fail"))
def signups_custom_strict(signups: pl.Series) -> pl.Series:
    return signups * 1


@check_output(mean_in_range=(0, 100), target_="spend_again")
@extract_columns("spend_again", "signups_again")
def again_frame(raw: pl.DataFrame) -> pl.DataFrame:
    return raw.select(spend_again="spend", signups_again="signups")


@extract_columns("spend_framed")
@check_output_custom(HasColumns(["spend_framed", "nope"], "warn"))
def framed(raw: pl.DataFrame) -> pl.DataFrame:
    return raw.select(spend_framed="spend")
'''

CHECKED = [
    "spend_checked",
    "signups_checked",
    "region_checked",
    "total_signups",
    "spend_custom",
    "signups_shifted",
    "spend_again",
    "spend_framed",
]
STRICT = ["signups_strict", "signups_custom_strict"]
# Nodes whose checks run when CHECKED is computed (`framed` is checked, then extracted from).
SOURCES = [*CHECKED, "framed"]


# -- the oracle: Hamilton's pandas validators, fed the Polars data as pandas ----------------------


def _polars_twin(cls: type) -> type:
    def applies_to(klass: type, datatype: Any) -> bool:
        return isinstance(datatype, type) and issubclass(datatype, pl.Series)

    def validate(self: Any, data: Any) -> Any:
        return cls.validate(self, data.to_pandas())

    return type(
        f"{cls.__name__}OnPolars",
        (cls,),
        {"applies_to": classmethod(applies_to), "validate": validate},
    )


PANDAS_VALIDATORS = [
    h_default_validators.AllowNaNsValidatorPandasSeries,
    h_default_validators.DataInRangeValidatorPandasSeries,
    h_default_validators.DataInValuesValidatorPandasSeries,
    h_default_validators.DataTypeValidatorPandasSeries,
    h_default_validators.MaxFractionNansValidatorPandasSeries,
    h_default_validators.MaxStandardDevValidatorPandasSeries,
    h_default_validators.MeanInRangeValidatorPandasSeries,
]


@pytest.fixture
def hamilton_on_polars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        h_default_validators,
        "AVAILABLE_DEFAULT_VALIDATORS",
        [*map(_polars_twin, PANDAS_VALIDATORS), *h_default_validators.AVAILABLE_DEFAULT_VALIDATORS],
    )


def modules(tmp_path, source: str = TEMPLATE) -> tuple[Any, Any]:
    theirs = load_module(tmp_path, source.format(lib="hamilton"))
    ours = load_module(tmp_path, source.format(lib="hamilton_fast"))
    return theirs, ours


def drivers(tmp_path, source: str = TEMPLATE) -> tuple[Any, Any]:
    theirs, ours = modules(tmp_path, source)
    hamilton = (
        h_driver.Builder()
        .with_modules(theirs)
        .with_adapters(h_base.SimplePythonGraphAdapter(h_base.DictResult()))
        .build()
    )
    fast = driver.Builder().with_modules(ours).with_adapters(base.DictResult()).build()
    return hamilton, fast


def fast_driver(tmp_path, source: str = TEMPLATE) -> Any:
    module = load_module(tmp_path, source.format(lib="hamilton_fast"))
    return driver.Builder().with_modules(module).with_adapters(base.DictResult()).build()


def validator_nodes(dr: Any, checked: list[str]) -> list[str]:
    return sorted(
        v.name
        for v in dr.list_available_variables()
        if v.tags.get("hamilton.data_quality.source_node") in checked
    )


def outcomes_by_node(outcomes: Any) -> dict[str, Any]:
    return {f"{o.node}_{o.validator}": o for o in outcomes}


# Hamilton's descriptions say "pandas series"; ours name what is checked.
_DOC_WORDING = {"pandas series": "Polars column"}


def _normalise_doc(doc: str) -> str:
    for theirs, ours in _DOC_WORDING.items():
        doc = doc.replace(theirs, ours)
    return doc


# -- same graph ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("hamilton_on_polars")
def test_same_nodes_types_tags_and_docs(tmp_path):
    hamilton, fast = drivers(tmp_path)
    theirs = {v.name: v for v in hamilton.list_available_variables()}
    ours = {v.name: v for v in fast.list_available_variables()}
    assert sorted(ours) == sorted(theirs)
    assert {"spend_checked_raw", "spend_checked_range_validator", "spend_custom_at_most_1"} <= set(
        ours
    )
    for name, theirs_var in theirs.items():
        ours_var = ours[name]
        strip = lambda tags: {k: v for k, v in tags.items() if k != "module"}  # noqa: E731
        assert strip(ours_var.tags) == strip(theirs_var.tags), name
        assert ours_var.is_external_input == theirs_var.is_external_input, name
        if theirs_var.type.__name__ == "ValidationResult":
            assert ours_var.type is ValidationResult, name
            if name != "total_signups_data_type_validator":  # Hamilton's text says "pandas"
                assert ours_var.documentation == _normalise_doc(theirs_var.documentation), name
        else:
            assert ours_var.type == theirs_var.type, name
            assert ours_var.documentation == theirs_var.documentation, name
    assert ours["spend_checked_allow_nans_validator"].tags == {
        "module": ours["spend_checked"].tags["module"],
        "hamilton.data_quality.contains_dq_results": True,
        "hamilton.data_quality.source_node": "spend_checked",
    }


@pytest.mark.usefixtures("hamilton_on_polars")
def test_same_values_and_outcomes_per_validator(tmp_path):
    hamilton, fast = drivers(tmp_path)
    theirs_values = hamilton.execute(CHECKED, inputs=INPUTS)
    ours_values = fast.execute(CHECKED, inputs=INPUTS)
    for name in CHECKED:
        if isinstance(theirs_values[name], pl.Series):
            assert_series_equal(ours_values[name], theirs_values[name], check_names=False)
        else:
            assert ours_values[name] == theirs_values[name]

    validators = validator_nodes(hamilton, SOURCES)
    assert validators == validator_nodes(fast, SOURCES)
    theirs = hamilton.execute(validators, inputs=INPUTS)
    ours = outcomes_by_node(fast.validation_results)
    assert sorted(ours) == validators
    for name in validators:
        assert ours[name].passes == theirs[name].passes, (name, ours[name], theirs[name])
    # Both ways of passing and failing occur.
    assert {o.passes for o in ours.values()} == {True, False}


@pytest.mark.usefixtures("hamilton_on_polars")
def test_same_figures_as_hamiltons_pandas_validators(tmp_path):
    hamilton, fast = drivers(tmp_path)
    validators = validator_nodes(hamilton, SOURCES)
    theirs = hamilton.execute(validators, inputs=INPUTS)
    fast.execute(CHECKED, inputs=INPUTS)
    ours = outcomes_by_node(fast.validation_results)
    exact = {
        "in_range",
        "out_range",
        "data_size",
        "total_nan",
        "total_length",
        "correct_values_count",
        "incorrect_values_count",
        "value",
        "max",
    }
    approximate = {"fraction_na", "dataset_mean", "standard_dev"}
    compared = 0
    for name in validators:
        for key, expected in theirs[name].diagnostics.items():
            if key in exact:
                assert ours[name].diagnostics[key] == expected, (name, key)
            elif key in approximate:
                assert math.isclose(ours[name].diagnostics[key], expected, rel_tol=1e-12), name
            else:
                continue
            compared += 1
    assert compared > 20
    # Hamilton lists every offending value; we give one with its count.
    assert ours["region_checked_values_in_validator"].diagnostics["incorrect_values"] == {"west": 1}
    assert theirs["region_checked_values_in_validator"].diagnostics["incorrect_values"] == {
        "west": 1
    }


def test_validator_nodes_requested_directly_agree_with_the_in_query_checks(tmp_path):
    fast = fast_driver(tmp_path)
    fast.execute(CHECKED, inputs=INPUTS)
    in_query = outcomes_by_node(fast.validation_results)
    direct = fast.execute(sorted(in_query), inputs=INPUTS)
    for name, outcome in in_query.items():
        result = direct[name]
        assert isinstance(result, ValidationResult), name
        assert (result.passes, result.message) == (outcome.passes, outcome.message), name
    # Asking for validator nodes only computes `_raw` values: the checked nodes are not run.
    assert fast.validation_results == ()


# -- warn logs, fail raises ----------------------------------------------------------------------


def test_warn_logs_node_validator_and_figure(tmp_path, caplog):
    fast = fast_driver(tmp_path)
    with caplog.at_level(logging.WARNING, logger="hamilton_fast.validation"):
        fast.execute(["spend_checked", "region_checked"], inputs=INPUTS)
    text = caplog.text
    assert "`spend_checked` failed range_validator: 2 of 6 values (33.3%) outside [0, 250]" in text
    assert "2 of them null or NaN" in text
    assert "`spend_checked` failed allow_nans_validator: 2 of 6 values (33.3%) null or NaN" in text
    assert "`spend_checked` failed mean_in_range_validator: mean 65 outside [0, 50]" in text
    assert "`region_checked` failed values_in_validator: 1 of 6 values (16.7%) not in " in text
    assert "e.g. 'west' (1x)" in text
    assert "max_fraction_nans_validator: 1 of 6 values (16.7%) null or NaN; at most 10.00%" in text
    passed = {"max_fraction_nans_validator", "max_standard_dev_validator", "data_type_validator"}
    for record in caplog.records:
        if "`spend_checked`" in record.getMessage():
            assert not any(name in record.getMessage() for name in passed)


@pytest.mark.usefixtures("hamilton_on_polars")
def test_fail_raises_naming_node_validator_and_figure(tmp_path):
    hamilton, fast = drivers(tmp_path)
    for name in STRICT:
        with pytest.raises(Exception, match="validator failed"):
            hamilton.execute([name], inputs=INPUTS)
    with pytest.raises(DataValidationError) as caught:
        fast.execute(["signups_strict"], inputs=INPUTS)
    message = str(caught.value)
    assert (
        "`signups_strict` failed range_validator: 3 of 6 values (50.0%) outside [0, 3]" in message
    )
    assert "Hint:" in message
    assert [o.passes for o in fast.validation_results] == [False]
    with pytest.raises(
        DataValidationError, match=r"`signups_custom_strict` failed at_most: max is 6"
    ):
        fast.execute(["signups_custom_strict"], inputs=INPUTS)


def test_fail_on_a_node_upstream_of_the_request_raises_too(tmp_path):
    fast = fast_driver(
        tmp_path,
        TEMPLATE
        + """

def strict_total(signups_strict: pl.Series) -> pl.Series:
    return signups_strict.cum_sum()
""",
    )
    with pytest.raises(DataValidationError, match="signups_strict"):
        fast.execute(["strict_total"], inputs=INPUTS)


def test_overriding_the_checked_node_skips_its_checks(tmp_path):
    fast = fast_driver(tmp_path)
    result = fast.execute(
        ["signups_strict"], inputs=INPUTS, overrides={"signups_strict": pl.Series([1, 2])}
    )
    assert result["signups_strict"].to_list() == [1, 2]
    assert fast.validation_results == ()


# -- custom validators ---------------------------------------------------------------------------


@pytest.mark.usefixtures("hamilton_on_polars")
def test_custom_validators_with_the_same_name_are_numbered_like_hamilton(tmp_path):
    hamilton, fast = drivers(tmp_path)
    names = ["spend_custom_at_most", "spend_custom_at_most_1"]
    theirs = hamilton.execute(names, inputs=INPUTS)
    fast.execute(["spend_custom"], inputs=INPUTS)
    ours = outcomes_by_node(fast.validation_results)
    for name in names:
        assert ours[name].passes == theirs[name].passes
        assert ours[name].message == theirs[name].message
    assert [ours[n].passes for n in names] == [True, False]


@pytest.mark.usefixtures("hamilton_on_polars")
def test_check_below_extract_columns_checks_the_frame_as_hamilton_does(tmp_path):
    hamilton, fast = drivers(tmp_path)
    for dr in (hamilton, fast):
        names = {v.name for v in dr.list_available_variables()}
        assert {"framed_raw", "framed_has_columns", "framed", "spend_framed"} <= names
        assert "spend_framed_raw" not in names
    theirs = hamilton.execute(["framed_has_columns"], inputs=INPUTS)["framed_has_columns"]
    fast.execute(["spend_framed"], inputs=INPUTS)
    (outcome,) = fast.validation_results
    assert (outcome.node, outcome.validator) == ("framed", "has_columns")
    assert (outcome.passes, outcome.message) == (theirs.passes, theirs.message)


def test_custom_validator_gets_the_column_as_a_series(tmp_path):
    seen: list[Any] = []
    source = TEMPLATE.replace(
        "largest = dataset.max()", "SEEN.append(dataset)\n        largest = dataset.max()"
    ).replace("class AtMost", "SEEN = []\n\n\nclass AtMost")
    _, ours = modules(tmp_path, source)
    fast = driver.Builder().with_modules(ours).with_adapters(base.DictResult()).build()
    fast.execute(["spend_custom"], inputs=INPUTS)
    seen = ours.SEEN
    assert len(seen) == 2
    assert all(isinstance(s, pl.Series) and s.name == "spend_custom" for s in seen)


def test_a_custom_validator_that_raises_names_node_and_validator(tmp_path):
    fast = fast_driver(tmp_path, TEMPLATE.replace("dataset.max()", "dataset.no_such_method()"))
    with pytest.raises(
        NodeError,
        match=r"`spend_custom`: validator `at_most` raised AttributeError: .*\n"
        r"  function: spend_custom\(spend: pl.Series\) at .*\.py:\d+\n"
        r"Hint: the validator's own code failed",
    ):
        fast.execute(["spend_custom"], inputs=INPUTS)


# -- the plan ------------------------------------------------------------------------------------

PARQUET_MODULE = """
import polars as pl
from hamilton_fast.function_modifiers import check_output, extract_columns


@check_output(range=(0, 1000), allow_nans=False, data_type=pl.Float64, target_="spend")
@extract_columns("spend", "signups")
def marketing_data(data_path: str) -> pl.LazyFrame:
    return pl.scan_parquet(data_path)


@check_output(
    range=(0, 100),
    values_in=[10.0],
    allow_nans=False,
    max_fraction_nans=0.1,
    mean_in_range=(0, 20),
    max_standard_dev=5,
    data_type=pl.Float64,
    importance="warn",
)
def spend_per_signup(spend: pl.Series, signups: pl.Series) -> pl.Series:
    return spend / signups


@check_output(range=(0, 100), mean_in_range=(0, 30))
def spend_smooth(spend: pl.Expr) -> pl.Expr:
    return spend.rolling_mean(2)
"""


def test_checks_add_no_scan_and_no_python_udf(tmp_path):
    path = tmp_path / "marketing.parquet"
    pl.DataFrame(
        {"spend": [10.0, 20.0, 30.0, 40.0], "signups": [1, 2, 3, 4], "other": [0, 0, 0, 0]}
    ).write_parquet(path)
    module = load_module(tmp_path, PARQUET_MODULE)
    fast = driver.Builder().with_modules(module).build()
    outputs = ["spend_per_signup", "spend_smooth", "spend"]
    plan = fast.explain(outputs, inputs={"data_path": str(path)})
    assert plan.count("Parquet SCAN") == 1
    assert "python_udf" not in plan.lower()
    assert "map_batches" not in plan
    assert "1 final query" in plan
    assert "Opaque nodes: none" in plan
    # Every check of every requested node is a column of that one query.
    assert len(re.findall(r'alias\("__check__', plan)) == 3 + 7 + 2
    frame = fast.execute(outputs, inputs={"data_path": str(path)})
    assert frame.columns == outputs
    outcomes = outcomes_by_node(fast.validation_results)
    assert len(outcomes) == 12
    assert outcomes["spend_per_signup_max_standard_dev_validator"].passes
    assert outcomes["spend_smooth_range_validator"].passes is False  # the leading null
    assert outcomes["spend_smooth_mean_in_range_validator"].passes


# -- our validators on their own -----------------------------------------------------------------


def test_data_type_accepts_polars_numpy_and_python_types():
    ints = pl.Series("x", [1, 2], dtype=pl.Int32)
    text = pl.Series("x", ["a"])
    when = pl.Series("x", [1], dtype=pl.Datetime("ms"))
    cases = [
        (pl.Int32, ints, True),
        (pl.Int64, ints, False),
        (np.integer, ints, True),
        (np.floating, ints, False),
        (pl.String, text, True),
        (str, text, True),
        (pl.Datetime, when, True),
        (pl.Datetime("us"), when, False),
        (np.datetime64, when, True),
    ]
    for required, data, expected in cases:
        result = DataTypeValidatorPolarsColumn(required, "warn").validate(data)
        assert result.passes is expected, (required, data.dtype)


def test_missing_values_are_null_and_nan_for_floats_null_otherwise():
    check = MaxFractionNansValidatorPolarsColumn(0.0, "warn")
    floats = check.validate(pl.Series("x", [1.0, None, float("nan")]))
    assert floats.diagnostics["total_nan"] == 2
    for data in (
        pl.Series("x", ["a", None]),
        pl.Series("x", [True, None]),
        pl.Series("x", [1, None]),
    ):
        assert check.validate(data).diagnostics["total_nan"] == 1


def test_values_in_compares_across_int_and_float():
    check = DataInValuesValidatorPolarsColumn([1, 2.0], "warn")
    assert check.validate(pl.Series("x", [1, 2, None], dtype=pl.UInt8)).passes
    assert check.validate(pl.Series("x", [1.0, 2.0, float("nan")])).passes
    assert not check.validate(pl.Series("x", [1.5])).passes
    assert not check.validate(pl.Series("x", ["1"])).passes


def test_mean_of_a_text_column_fails_the_check_rather_than_the_query():
    result = MeanInRangeValidatorPolarsColumn((0, 1), "warn").validate(pl.Series("x", ["a"]))
    assert result.passes is False
    assert result.message == "mean is undefined (no numeric values)"


def test_small_shares_keep_their_digits():
    data = pl.Series("x", [1.0] * 9_999 + [500.0])
    result = DataInRangeValidatorPolarsColumn((0, 100), "warn").validate(data)
    assert result.message == "1 of 10,000 values (0.01%) outside [0, 100]"


# -- build-time errors ---------------------------------------------------------------------------

BAD_CASES = {
    "unknown_argument": (
        "@check_output(rnage=(0, 1))",
        r"@check_output on `f` \(.*\.py:\d+\): `rnage` is not a validator argument\n"
        r"Hint: did you mean `range`\? Validator arguments are allow_nans, range,",
    ),
    "bad_importance": (
        '@check_output(range=(0, 1), importance="error")',
        r"@check_output on `f` \(.*\.py:\d+\): importance='error' is not one of 'warn', 'fail'"
        r"\nHint: importance=\"warn\" logs",
    ),
    "allow_nans_true": (
        "@check_output(allow_nans=True)",
        r"`allow_nans=True`: allow_nans only accepts False .*\nHint: allow_nans=False",
    ),
    "fraction_above_one": (
        "@check_output(max_fraction_nans=1.5)",
        r"`max_fraction_nans=1.5`: max_fraction_nans must be within \[0, 1\], got 1.5\n"
        r"Hint: max_fraction_nans=0.05",
    ),
    "range_not_a_pair": (
        "@check_output(range=5)",
        r"`range=5`: range must be a \(low, high\) pair, got 5\nHint: range=\(0, 100\)",
    ),
    "custom_class_not_instance": (
        "@check_output_custom(DataValidator)",
        r"@check_output_custom on `f` .*: validator #1 .* is a class, not a DataValidator object"
        r"\nHint: pass instances",
    ),
    "bad_target": (
        "@check_output(range=(0, 1), target_=3)",
        r"target_=3 names no node\nHint: target_=\"node\"",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_arguments_fail_at_decoration_naming_function_and_argument(tmp_path, case):
    decorator, pattern = BAD_CASES[case]
    source = f"""
import polars as pl
from hamilton_fast.data_quality.base import DataValidator
from hamilton_fast.function_modifiers import check_output, check_output_custom


{decorator}
def f(x: pl.Series) -> pl.Series:
    return x
"""
    with pytest.raises(ModifierError, match=pattern):
        load_module(tmp_path, source)


@pytest.mark.parametrize("case", ["unknown_argument", "bad_importance", "allow_nans_true"])
def test_hamilton_rejects_the_same_arguments_when_building(tmp_path, case, hamilton_on_polars):
    decorator, _ = BAD_CASES[case]
    source = f"""
import polars as pl
from hamilton.function_modifiers import check_output


{decorator}
def f(x: pl.Series) -> pl.Series:
    return x
"""
    module = load_module(tmp_path, source)
    with pytest.raises(ValueError):
        h_driver.Builder().with_modules(module).build()


GRAPH_CASES = {
    "no_validator_for_type": (
        """
@check_output(mean_in_range=(0, 1))
def f(x: pl.Series) -> str:
    return "a"
""",
        r"GraphError: @check_output on `f`: no `mean_in_range` validator applies to `f`, annotated "
        r"str \(`mean_in_range` checks columns \(pl.Series / pl.Expr\)\)\n  function: f at .*\n"
        r"Hint: annotate `f` as pl.Series",
    ),
    "frame": (
        """
@extract_columns("a")
@check_output(range=(0, 1))
def f(x: pl.DataFrame) -> pl.DataFrame:
    return x
""",
        r"no `range` validator applies to `f`, annotated pl.DataFrame .*\n.*\n"
        r"Hint: check the frame's columns instead: put @check_output\(\.\.\., target_=",
    ),
    "stacked": (
        """
@check_output(range=(0, 1))
@check_output(allow_nans=False)
def f(x: pl.Series) -> pl.Series:
    return x
""",
        r"`f` is checked twice .*\n.*\nHint: pass all validators to one @check_output",
    ),
    "unknown_target": (
        """
@check_output(range=(0, 1), target_="b")
@extract_columns("a")
def f(x: pl.DataFrame) -> pl.DataFrame:
    return x
""",
        r"target_ names `b`, which this function does not create at this point.*\n.*\n"
        r"Hint: this function creates `a`, `f`",
    ),
}


@pytest.mark.parametrize("case", sorted(GRAPH_CASES))
def test_invalid_combinations_fail_at_build_in_both_libraries(tmp_path, case):
    body, pattern = GRAPH_CASES[case]
    header = """
import polars as pl
from {lib}.function_modifiers import check_output, extract_columns
"""
    theirs = load_module(tmp_path, header.format(lib="hamilton") + body)
    ours = load_module(tmp_path, header.format(lib="hamilton_fast") + body)
    with pytest.raises(Exception):  # noqa: B017, PT011 (Hamilton raises assorted types)
        h_driver.Builder().with_modules(theirs).build()
    with pytest.raises(GraphError, match=pattern):
        driver.Builder().with_modules(ours).build()


# -- known gaps outside this decorator family ----------------------------------------------------


def test_tag_above_check_output_tags_only_the_checked_node(tmp_path):
    source = """
import polars as pl
from hamilton_fast.function_modifiers import check_output, tag


@tag(team="growth")
@check_output(range=(0, 1))
def f(x: pl.Series) -> pl.Series:
    return x
"""
    fast = driver.Builder().with_modules(load_module(tmp_path, source)).build()
    tagged = {v.name for v in fast.list_available_variables(tag_filter={"team": "growth"})}
    assert tagged == {"f"}


def test_check_on_a_column_feeding_an_opaque_scalar(tmp_path):
    source = """
import polars as pl
from hamilton_fast.function_modifiers import check_output


@check_output(range=(0, 100))
def doubled(x: pl.Series) -> pl.Series:
    return x * 2


def total(doubled: pl.Series) -> float:
    return doubled.sum()


def label(total: float) -> str:
    return "big" if total > 100 else "small"
"""
    fast = driver.Builder().with_modules(load_module(tmp_path, source)).build()
    fast.execute(["label"], inputs={"x": pl.Series([1.0, 2.0])})
    assert [o.passes for o in fast.validation_results] == [True]
