"""The personal list from the seeded knowledge base: items, one set of
materials for the case, where to go in the citizen's city."""

from bot.kb.guidance import alternatives, guidance


def test_hospital_death_in_foshan(kb):
    b = kb.bundle("after_death")
    g = guidance(b, kb.places(), b.guide.infer("我爸在佛山的医院病逝了"), "foshan")
    names = [it.name for it in g.items]
    assert "出具死亡证明（正常死亡）" in names and "出具死亡证明（非正常死亡）" not in names
    assert g.places["death_certificate_natural"][0].text.startswith("逝者在佛山市去世所在的医院")
    assert "police_investigation_docs" not in {m.material_id for m in g.materials}
    assert "medical_history" not in {m.material_id for m in g.materials}
    assert g.case == ["在医院去世"]
    assert g.saved_items >= 1 and g.saved_materials >= 1


def test_where_to_register_a_birth_in_foshan_names_foshan(kb):
    b = kb.bundle("newborn")
    g = guidance(b, kb.places(), {}, "foshan", "foshan.shunde")
    texts = [p.text for p in g.places["birth_hukou_registration"]]
    assert texts[0] == "佛山市户口所在地的派出所（户籍窗口）"
    assert texts[1] == "佛山市顺德区政务服务中心综合窗口"
    assert texts[2] == "“粤省事”小程序"


def test_a_district_of_another_city_is_ignored(kb):
    city, district = kb.places().locate("guangzhou", "foshan.shunde")
    assert city.id == "guangzhou" and district is None


def test_cities_own_details_win(kb):
    assert kb.places().describe("gd_etax", "shenzhen").text == "深圳市电子税务局"
    assert kb.places().describe("gd_etax", "foshan").text == "广东省电子税务局或“粤税通”"


def test_death_certificate_where_before_the_case_is_known(kb):
    b = kb.bundle("after_death")
    options = {a.case: (a.item.key, a.places[0].kind) for a in alternatives(b, "death_certificate_natural", kb.places())}
    assert options == {
        "在医院去世": ("death_certificate_natural", "hospital_of_death"),
        "在家或其他地方、因病或自然去世": ("death_certificate_natural", "primary_care"),
        "意外、事故或原因不明": ("death_certificate_unnatural", "police_investigation"),
    }


def test_a_new_shop_is_told_about_enterprise_opening(kb):
    b = kb.bundle("restaurant_permit")
    g = guidance(b, kb.places(), b.guide.infer("我想在深圳开一家奶茶店"), "shenzhen")
    assert [r.bundle_id for r in g.requirements] == ["enterprise_opening"]
    done = guidance(b, kb.places(), {"licence": "has"})
    assert done.requirements == []


def test_seeded_guides_equal_the_files(kb):
    from bot.kb.loader import load_knowledge_base

    files = load_knowledge_base()
    for spec in files.bundles:
        view = kb.bundle(spec.id)
        assert view.guide == spec.guide
        assert [it.where for it in view.items] == [it.where for it in spec.items]
        assert [(r.bundle_id, r.why) for r in view.requires] == [(r.bundle, r.why) for r in spec.requires]
    assert set(kb.places().cities) == set(files.places.cities) and len(files.places.cities) == 21
