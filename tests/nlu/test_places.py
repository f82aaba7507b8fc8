"""nlu.places: the 21 cities of Guangdong and their districts in messages."""

import pytest
import yaml

from nlu.places import PlaceMatcher, read_names
from tests.conftest import ROOT

MATCHER = PlaceMatcher(read_names(ROOT / "data" / "places.yml"))


def found(text):
    return {e["entity"]: e["value"] for e in MATCHER.entities(text)}


@pytest.mark.parametrize("text, expected", [
    ("在佛山生了宝宝，户口去哪里上", {"city": "foshan"}),
    ("我在深圳南山区", {"city": "shenzhen", "district": "shenzhen.nanshan"}),
    ("顺德的社保局在哪", {"city": "foshan", "district": "foshan.shunde"}),
    ("我是东莞虎门的", {"city": "dongguan", "district": "dongguan.humen"}),
    ("汕尾城区", {"city": "shanwei", "district": "shanwei.chengqu"}),
    ("廣州天河", {"city": "guangzhou", "district": "guangzhou.tianhe"}),  # 天河 names its city
    ("在广州中山大学附属医院生的", {"city": "guangzhou"}),  # 中山大学 is not 中山
    ("中山市人民医院", {"city": "zhongshan"}),
    ("坐飞机到天河机场", {}),
    ("孩子出生要办什么", {}),
])
def test_places_in_messages(text, expected):
    assert found(text) == expected


def test_all_21_cities_by_name_and_short_name():
    raw = yaml.safe_load((ROOT / "data" / "places.yml").read_text(encoding="utf-8"))
    assert len(raw["cities"]) == 21
    for city_id, city in raw["cities"].items():
        assert found(f"我在{city['name']}")["city"] == city_id
        assert found(f"我在{city['name'][:-1]}")["city"] == city_id
        for district_id, d in city["districts"].items():
            assert found(f"住在{city['name']}{d['name']}")["district"] == f"{city_id}.{district_id}"


def test_a_district_of_another_city_is_not_taken():
    assert found("广州的顺德菜馆") == {"city": "guangzhou"}
