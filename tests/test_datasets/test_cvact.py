import os
import os.path as osp

import numpy as np
import pytest
from replicas import latlon_to_utm, make_cvact

from gleamkit.datasets import CVACTDataset
from gleamkit.datasets.cvact import utm_to_lat_lon

OFFSET = 60_000_000


@pytest.fixture()
def cvact(tmp_path):
    return make_cvact(str(tmp_path / 'CVACT'))


def test_utm_conversion_round_trip_and_central_meridian():
    east, north = latlon_to_utm(-35.3081, 149.1245)
    assert 690_000 < east < 700_000 and 6_080_000 < north < 6_100_000  # Canberra, 55H
    lat, lon = utm_to_lat_lon(east, north, zone=55)
    assert lat == pytest.approx(-35.3081, abs=1e-8) and lon == pytest.approx(149.1245, abs=1e-8)
    lat, lon = utm_to_lat_lon(500_000.0, 10_000_000.0, zone=55)  # equator, central meridian
    assert lat == pytest.approx(0.0, abs=1e-12) and lon == pytest.approx(147.0)


def test_val_split_ids_paths_and_gps(cvact):
    query = CVACTDataset(data_root=cvact['root'], split='val', mode='query')
    gallery = CVACTDataset(data_root=cvact['root'], split='val', mode='gallery')
    assert len(query) == len(gallery) == 2
    assert (
        query.get_field('location_id')
        == gallery.get_field('location_id')
        == [OFFSET + 4, OFFSET + 5]
    )  # valInd 5, 6 are 1-based
    info = query.get_data_info(0)
    pano = cvact['ids'][4]
    assert info['pano_id'] == pano and info['view'] == 'panorama'
    assert info['query_path'] == osp.join(
        cvact['root'], 'ANU_data_small', 'streetview', f'{pano}_grdView.jpg'
    )
    lat, lon = cvact['lat_lon'][4]
    assert info['lat'] == pytest.approx(lat, abs=1e-7)
    assert info['lon'] == pytest.approx(lon, abs=1e-7)
    g = gallery.get_data_info(0)
    assert g['reference_path'].endswith(osp.join('satview_polish', f'{pano}_satView_polish.jpg'))
    assert g['lat'] == pytest.approx(lat, abs=1e-7)


def test_train_pairs_and_swapped_utm_columns(tmp_path):
    c = make_cvact(str(tmp_path / 'CVACT'), swap_utm_columns=True)
    ds = CVACTDataset(data_root=c['root'], split='train', mode='pairs')
    assert len(ds) == 4
    assert ds.get_field('location_id') == [OFFSET + i for i in range(4)]
    lats = np.array(ds.get_field('lat'))
    np.testing.assert_allclose(lats, [c['lat_lon'][i][0] for i in range(4)], atol=1e-7)
    assert ds.get_data_info(0)['reference_path'].endswith('_satView_polish.jpg')


def test_test_split_from_val_set_all(cvact):
    ds = CVACTDataset(data_root=cvact['root'], split='test', mode='query')
    assert ds.get_field('location_id') == [OFFSET + 6, OFFSET + 7, OFFSET + 8]
    assert osp.join('ANU_data_test', 'streetview') in ds.get_data_info(0)['query_path']
    assert 'lat' in ds.get_data_info(0)


def test_test_split_without_val_set_all_lists_the_folder(tmp_path):
    c = make_cvact(str(tmp_path / 'CVACT'), with_test_struct=False)
    os.remove(
        osp.join(c['root'], 'ANU_data_test', 'satview_polish', f'{c["ids"][8]}_satView_polish.jpg')
    )
    ds = CVACTDataset(data_root=c['root'], split='test', mode='gallery')
    assert ds.get_field('location_id') == [OFFSET + 6, OFFSET + 7]


def test_missing_image_is_reported_not_dropped(cvact):
    os.remove(
        osp.join(cvact['root'], 'ANU_data_small', 'streetview', f'{cvact["ids"][1]}_grdView.jpg')
    )
    with pytest.raises(FileNotFoundError, match=r'1 of 4 samples'):
        CVACTDataset(data_root=cvact['root'], split='train', mode='pairs')
    ds = CVACTDataset(data_root=cvact['root'], split='train', mode='pairs', on_missing='skip')
    assert ds.get_field('location_id') == [OFFSET + 0, OFFSET + 2, OFFSET + 3]


def test_missing_or_bad_mat(tmp_path):
    with pytest.raises(FileNotFoundError, match='ACT_data.mat'):
        CVACTDataset(data_root=str(tmp_path), split='val', mode='query')
    (tmp_path / 'ACT_data.mat').write_text('not a mat file')
    with pytest.raises(ValueError, match='MATLAB'):
        CVACTDataset(data_root=str(tmp_path), split='val', mode='query')
