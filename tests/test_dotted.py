"""Dotted paths go through Hydra's lookup (hydra.utils.get_object/get_method), quietly."""
import logging

import pytest

from budgetsweep.dotted import get_method, get_object
from budgetsweep.recipe import Recipe
from budgetsweep.reductions.support import task_class


class Outer:
    class Task:  # a class nested in a class: Hydra's lookup finds it, importlib's module path did not
        pass


def test_a_target_nested_in_a_class_is_found():
    recipe = Recipe(task={"_target_": f"{__name__}.Outer.Task"}, model={})
    assert task_class(recipe) is Outer.Task


def test_a_bad_target_is_one_message_naming_the_path_without_hydras_error_line(caplog):
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(ValueError, match=r"_target_='no_such_module.Task' cannot be imported"):
            task_class(Recipe(task={"_target_": "no_such_module.Task"}, model={}))
        with pytest.raises(ImportError):
            get_object("no_such_module.thing")
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert get_method("os.path.join") is __import__("os").path.join


def test_there_is_one_dotted_path_importer():
    import budgetsweep.reductions.support as support

    assert not hasattr(support, "import_target")
