"""Doors, keys, boxes and switches from Python: `toggle` is in the action space, and the info
carries the doors' state and each object's `open`, `inside` and `used`."""

import sandtable


def test_toggle_is_an_action_and_the_expert_opens_the_door_through_it():
    assert "toggle" in sandtable.ACTIONS
    toggle = sandtable.ACTIONS.index("toggle")
    env = sandtable.make("open_door_go_to", size=32)
    try:
        _, info = env.reset(seed=0)
        assert [d["name"] for d in info["doors"]] == ["door"] and info["doors"][0]["gate"] == "Closed"
        toggled, done = False, False
        while not done:
            a = env.unwrapped.expert_action()
            toggled |= a == toggle
            _, _, terminated, truncated, info = env.step(a)
            done = terminated or truncated
        assert toggled and info["success"] and info["doors"][0]["gate"] == "Open"
    finally:
        env.close()


def test_a_box_hides_its_object_until_opened_and_a_used_key_is_reported():
    env = sandtable.make("key_in_box", size=32)
    try:
        _, info = env.reset(seed=1)
        key, box = info["roles"]["key"], info["roles"]["box"]
        objects = {o["id"]: o for o in info["objects"]}
        assert objects[key]["inside"] == box and not objects[box]["open"] and not objects[key]["visible"]
        assert info["doors"][0]["gate"] == {"Locked": objects[key]["color"]}
        done = False
        while not done:
            _, _, terminated, truncated, info = env.step(env.unwrapped.expert_action())
            done = terminated or truncated
        objects = {o["id"]: o for o in info["objects"]}
        assert info["success"] and objects[box]["open"] and objects[key]["inside"] is None and objects[key]["used"]
    finally:
        env.close()
