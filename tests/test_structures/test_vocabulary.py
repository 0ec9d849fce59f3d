"""The view names and dataset modes are defined once and every module uses them."""

import pytest

from gleamkit.structures import vocabulary
from gleamkit.structures.vocabulary import (
    DATASET_MODES,
    QUERY_VIEWS,
    REFERENCE_VIEW,
    VIEWS,
    check_mode,
    check_view,
    check_views,
    views_in_order,
)


def test_the_vocabulary():
    assert VIEWS == ('satellite', 'map', 'uav', 'panorama', 'ground')
    assert REFERENCE_VIEW == 'satellite'
    assert QUERY_VIEWS == ('map', 'uav', 'panorama', 'ground')
    assert DATASET_MODES == ('pairs', 'query', 'gallery')


def test_every_module_imports_the_one_definition():
    from gleamkit.datasets import base_cross_view, synthetic_cross_view
    from gleamkit.datasets.gleam_x import format as gleam_x_format
    from gleamkit.models.adapters import base_adapter
    from gleamkit.synthetic import world
    from gleamkit.synthetic.captions import synthetic_explanations

    assert world.VIEWS is vocabulary.VIEWS and world.QUERY_VIEWS is vocabulary.QUERY_VIEWS
    assert base_cross_view.BaseCrossViewDataset.MODES is vocabulary.DATASET_MODES
    assert gleam_x_format.KNOWN_VIEWS is vocabulary.QUERY_VIEWS
    # orders that outputs depend on stay as they were (sample order, embedding rows)
    assert synthetic_cross_view.DEFAULT_VIEWS == ('uav', 'map', 'panorama', 'ground')
    assert synthetic_explanations.QUERY_VIEWS == ('uav', 'map', 'panorama', 'ground')
    assert base_adapter.DEFAULT_VIEWS == ('satellite', 'uav', 'map', 'panorama', 'ground')


def test_check_view_names_the_place_and_suggests():
    assert check_view('uav', 'here') == 'uav'
    with pytest.raises(
        ValueError,
        match=r"PairListDataset: pairs.csv:3: view='drone', expected "
        r"one of .* \(did you mean 'uav'\?\)",
    ):
        check_view('drone', 'PairListDataset: pairs.csv:3')
    with pytest.raises(ValueError, match=r"default_view='panorma'.*did you mean 'panorama'"):
        check_view('panorma', 'X', key='default_view')
    with pytest.raises(ValueError, match=r"view='satellite', expected one of \('map', 'uav'"):
        check_view('satellite', 'X', QUERY_VIEWS)
    with pytest.raises(ValueError, match=r"view='thermal', expected one of \([^)]*\)$"):
        check_view('thermal', 'X')


def test_check_views_and_modes():
    assert check_views(['uav', 'map'], 'X') == ('uav', 'map')
    with pytest.raises(ValueError, match=r"unknown views \['sat'\].*did you mean 'satellite'"):
        check_views(['uav', 'sat'], 'X')
    with pytest.raises(ValueError, match=r"views='uav' is a string"):
        check_views('uav', 'X')
    assert check_mode('query', 'X') == 'query'
    with pytest.raises(
        ValueError,
        match=r"X: mode='pair', expected one of \('pairs', 'query', "
        r"'gallery'\) \(did you mean 'pairs'\?\)",
    ):
        check_mode('pair', 'X')


def test_views_in_order():
    assert views_in_order(QUERY_VIEWS, first=('uav',)) == ('uav', 'map', 'panorama', 'ground')
    assert views_in_order(VIEWS) == VIEWS
    with pytest.raises(ValueError, match='thermal'):
        views_in_order(VIEWS, first=('thermal',))
