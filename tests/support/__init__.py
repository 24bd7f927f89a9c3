"""What the tests share: live servers, fault injection, clusters, a balancer, a webhook receiver."""
