from starlette.testclient import TestClient


def test_health_names_each_dependency(client: TestClient, stack: str) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    expected_cache = "n/a" if stack == "sqlite-memory" else "ok"
    assert response.json() == {"status": "ok", "database": "ok", "cache": expected_cache}
