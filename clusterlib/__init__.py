"""clusterlib: drive Microsoft failover clusters (status, drains, moves, rolling upgrades) over WinRM."""
